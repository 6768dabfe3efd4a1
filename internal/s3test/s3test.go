// Package s3test starts an S3-compatible server in the test's process, for
// the tests of everything that keeps objects in S3: gofakes3 in memory,
// over TLS, as object storage for personal data should be reached. Over
// plain HTTP the MinIO client signs each chunk of a body instead of the
// headers, which gofakes3 v1.2.0 does not decode in the parts of a
// multipart upload.
package s3test

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The credentials the server takes.
const (
	AccessKey = "test-access-key"
	SecretKey = "test-secret-key"
)

// Server is a running S3 server and a client of it.
type Server struct {
	// Endpoint is host:port.
	Endpoint string
	Client   *minio.Client
	server   *httptest.Server
}

// Start starts a server for the test, stopped when it ends, with the
// buckets given.
func Start(t *testing.T, buckets ...string) *Server {
	t.Helper()
	server := httptest.NewTLSServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(server.Close)
	u, err := url.Parse(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	client, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Secure: true,
		Transport: server.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		if err := client.MakeBucket(context.Background(), b, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return &Server{Endpoint: u.Host, Client: client, server: server}
}

// Flags are the flags of ehcledger's S3 settings under a prefix (such as
// "keys-") that reach the server, the secret key in a file.
func (s *Server) Flags(t *testing.T, prefix string) []string {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "s3-secret")
	if err := os.WriteFile(secret, []byte(SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--" + prefix + "s3-endpoint", s.Endpoint, "--" + prefix + "s3-access-key", AccessKey, "--" + prefix + "s3-secret-key-file", secret}
}

// Env is the environment of a process that trusts the servers'
// certificates (SSL_CERT_FILE, a bundle of them).
func Env(t *testing.T, servers ...*Server) []string {
	t.Helper()
	var bundle []byte
	for _, s := range servers {
		bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.server.Certificate().Raw})...)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "SSL_CERT_FILE="+ca)
}
