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
	prefix                             string // of the flags' names
}

// addS3Flags adds --s3-endpoint, --s3-access-key, --s3-secret-key-file and
// --s3-insecure; use says what they are for, in their help.
func addS3Flags(fs *flag.FlagSet, use string) s3Flags { return addS3FlagsAs(fs, "", "EHC_", use) }

// addS3FlagsAs adds the S3 flags under a prefix (such as "keys-"), with
// their environment variables under envPrefix (such as "EHC_KEYS_").
func addS3FlagsAs(fs *flag.FlagSet, prefix, envPrefix, use string) s3Flags {
	return s3Flags{prefix: prefix,
		endpoint:      fs.String(prefix+"s3-endpoint", envOr(envPrefix+"S3_ENDPOINT", ""), "S3-compatible endpoint host:port for "+use),
		accessKey:     fs.String(prefix+"s3-access-key", envOr(envPrefix+"S3_ACCESS_KEY", ""), "S3 access key ID"),
		secretKeyFile: fs.String(prefix+"s3-secret-key-file", envOr(envPrefix+"S3_SECRET_KEY_FILE", ""), "file holding the S3 secret key (mode 0600, this user's)"),
		insecure:      fs.Bool(prefix+"s3-insecure", false, "reach the S3 endpoint over plain HTTP (a test server on this host only)"),
	}
}

// or is f, unless none of its settings is given: then other.
func (f s3Flags) or(other s3Flags) s3Flags {
	if *f.endpoint == "" && *f.accessKey == "" && *f.secretKeyFile == "" && !*f.insecure {
		return other
	}
	return f
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
		return nil, usageError(fmt.Sprintf("%s needs --%[2]ss3-endpoint, --%[2]ss3-access-key and --%[2]ss3-secret-key-file", what, f.prefix))
	}
	secret, err := readSecretFile("--"+f.prefix+"s3-secret-key-file", *f.secretKeyFile)
	if err != nil {
		return nil, err
	}
	client, err := minio.New(*f.endpoint, &minio.Options{Creds: credentials.NewStaticV4(*f.accessKey, secret, ""), Secure: !*f.insecure})
	if err != nil {
		return nil, usageError(fmt.Sprintf("--%ss3-endpoint: %v", f.prefix, err))
	}
	return client, nil
}
