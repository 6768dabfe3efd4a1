package s3_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/ehcledger/ehcledger/documents"
	"github.com/ehcledger/ehcledger/documents/blobtest"
	"github.com/ehcledger/ehcledger/documents/s3"
	"github.com/ehcledger/ehcledger/internal/s3test"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// fakeS3 starts an in-memory S3 server for the test and returns a client
// of it (see package s3test).
func fakeS3(t *testing.T) *minio.Client {
	t.Helper()
	return s3test.Start(t).Client
}

// makeBucket creates the bucket or fails the test.
func makeBucket(t *testing.T, client *minio.Client, bucket string) {
	t.Helper()
	if err := client.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
}

// newBucket is a Bucket on a fresh server's bucket, under prefix.
func newBucket(t *testing.T, client *minio.Client, bucket, prefix string) *s3.Bucket {
	t.Helper()
	b, err := s3.New(client, bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	t.Run("without a prefix", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) documents.Blobs {
			client := fakeS3(t)
			makeBucket(t, client, "documents")
			return newBucket(t, client, "documents", "")
		})
	})
	t.Run("under a prefix", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) documents.Blobs {
			client := fakeS3(t)
			makeBucket(t, client, "documents")
			return newBucket(t, client, "documents", "live/ehc")
		})
	})
}

func TestBucket(t *testing.T) {
	ctx := context.Background()

	t.Run("blobs are objects named by prefix and key", func(t *testing.T) {
		client := fakeS3(t)
		makeBucket(t, client, "documents")
		b := newBucket(t, client, "documents", "live/")
		if err := b.Put(ctx, "cases/c1/doc", []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		obj, err := client.GetObject(ctx, "documents", "live/cases/c1/doc", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		var got bytes.Buffer
		if _, err := got.ReadFrom(obj); err != nil || got.String() != "sealed" {
			t.Fatalf("the object holds %q (%v), want the blob", got.String(), err)
		}
	})

	t.Run("prefixes keep deployments sharing a bucket apart", func(t *testing.T) {
		client := fakeS3(t)
		makeBucket(t, client, "documents")
		live, test := newBucket(t, client, "documents", "live"), newBucket(t, client, "documents", "test")
		if err := live.Put(ctx, "cases/c1/doc", []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		if _, err := test.Get(ctx, "cases/c1/doc"); !errors.Is(err, documents.ErrNotFound) {
			t.Fatalf("got %v, want documents.ErrNotFound", err)
		}
	})

	t.Run("a missing bucket is an error, not a missing document", func(t *testing.T) {
		b := newBucket(t, fakeS3(t), "no-such-bucket", "")
		_, err := b.Get(ctx, "cases/c1/doc")
		if err == nil || errors.Is(err, documents.ErrNotFound) {
			t.Fatalf("got %v, want an error other than documents.ErrNotFound", err)
		}
		if err := b.Put(ctx, "cases/c1/doc", []byte("sealed")); err == nil {
			t.Fatal("a put into a missing bucket succeeded")
		}
	})

	t.Run("a server that cannot be reached is an error, not a missing document", func(t *testing.T) {
		server := httptest.NewServer(nil)
		server.Close()
		u, _ := url.Parse(server.URL)
		client, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4("k", "s", ""), MaxRetries: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = newBucket(t, client, "documents", "").Get(ctx, "cases/c1/doc")
		if err == nil || errors.Is(err, documents.ErrNotFound) {
			t.Fatalf("got %v, want an error other than documents.ErrNotFound", err)
		}
	})

	bad := []struct {
		outcome, bucket, prefix string
	}{
		{"an invalid bucket name is refused", "Not_A_Bucket", ""},
		{"an empty bucket name is refused", "", ""},
		{"a prefix climbing out with .. is refused", "documents", "../other"},
		{"a prefix starting with a slash is refused", "documents", "/live"},
		{"a prefix with an empty segment is refused", "documents", "live//ehc"},
	}
	for _, tc := range bad {
		t.Run(tc.outcome, func(t *testing.T) {
			if b, err := s3.New(fakeS3(t), tc.bucket, tc.prefix); err == nil {
				t.Fatalf("got %v", b)
			}
		})
	}

	t.Run("no client is refused", func(t *testing.T) {
		if b, err := s3.New(nil, "documents", ""); err == nil {
			t.Fatalf("got %v", b)
		}
	})
}

// TestStore runs a document through a Store kept in S3, to show the two fit.
func TestStore(t *testing.T) {
	t.Run("a document stored in S3 is got back as it was", func(t *testing.T) {
		ctx := context.Background()
		client := fakeS3(t)
		makeBucket(t, client, "documents")
		store, err := documents.New(documents.Config{
			Blobs:   newBucket(t, client, "documents", "live"),
			Sealer:  plainSealer{},
			Scanner: documents.NoScan{},
		})
		if err != nil {
			t.Fatal(err)
		}
		pdf := []byte("%PDF-1.4\n%%EOF\n")
		doc, err := store.Put(ctx, "case-1", bytes.NewReader(pdf), "report.pdf")
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := store.Get(ctx, "case-1", doc.SHA256)
		if err != nil || !bytes.Equal(got, pdf) {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}

// plainSealer seals nothing: the sealing is tested with package documents;
// here only the storage is.
type plainSealer struct{}

func (plainSealer) Seal(_ string, plain []byte) ([]byte, error)  { return bytes.Clone(plain), nil }
func (plainSealer) Open(_ string, sealed []byte) ([]byte, error) { return bytes.Clone(sealed), nil }
