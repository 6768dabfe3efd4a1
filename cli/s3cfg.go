package cli

import (
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Flags are where S3-compatible object storage is reached and with what
// credentials, for every command that keeps something there (documents,
// backups). The secret key is read from a file, never given on the command
// line, where other users of the machine could see it.
type s3Flags struct {
	endpoint, accessKey, secretKeyFile *string
	insecure                           *bool
}

// addS3Flags adds --s3-endpoint, --s3-access-key, --s3-secret-key-file and
// --s3-insecure; use says what they are for, in their help.
func addS3Flags(fs *flag.FlagSet, use string) s3Flags {
	return s3Flags{
		endpoint:      fs.String("s3-endpoint", envOr("EHC_S3_ENDPOINT", ""), "S3-compatible endpoint host:port for "+use),
		accessKey:     fs.String("s3-access-key", envOr("EHC_S3_ACCESS_KEY", ""), "S3 access key ID"),
		secretKeyFile: fs.String("s3-secret-key-file", envOr("EHC_S3_SECRET_KEY_FILE", ""), "file holding the S3 secret key (mode 0600, this user's)"),
		insecure:      fs.Bool("s3-insecure", false, "reach the S3 endpoint over plain HTTP (a test server on this host only)"),
	}
}

// s3URL splits s3://BUCKET/PREFIX; ok is false for anything else.
func s3URL(at string) (bucket, prefix string, ok bool) {
	u, err := url.Parse(at)
	if err != nil || u.Scheme != "s3" {
		return "", "", false
	}
	return u.Host, strings.Trim(u.Path, "/"), true
}

// client makes the S3 client for the flag named by what (such as
// "--documents s3://...").
func (f s3Flags) client(what string) (*minio.Client, error) {
	if *f.endpoint == "" || *f.accessKey == "" || *f.secretKeyFile == "" {
		return nil, usageError(what + " needs --s3-endpoint, --s3-access-key and --s3-secret-key-file")
	}
	secret, err := readSecretFile("--s3-secret-key-file", *f.secretKeyFile)
	if err != nil {
		return nil, err
	}
	client, err := minio.New(*f.endpoint, &minio.Options{Creds: credentials.NewStaticV4(*f.accessKey, secret, ""), Secure: !*f.insecure})
	if err != nil {
		return nil, usageError(fmt.Sprintf("--s3-endpoint: %v", err))
	}
	return client, nil
}
