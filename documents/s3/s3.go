// Package s3 keeps the sealed blobs of package documents in S3-compatible
// object storage (Amazon S3, MinIO, Ceph and the like), through the MinIO
// client. It is a package of its own so that a deployment on local disk
// does not build the client in.
//
// The client is the caller's to make, with its endpoint, credentials and
// TLS settings:
//
//	client, err := minio.New("s3.eu-west-2.amazonaws.com", &minio.Options{
//		Creds:  credentials.NewEnvAWS(),
//		Secure: true,
//	})
//	...
//	blobs, err := s3.New(client, "ehcledger-documents", "live")
//
// The credentials need s3:PutObject and s3:GetObject on the prefix, and
// s3:ListBucket on the bucket: without it Amazon S3 answers a request for a
// missing object with "access denied", not "no such key", and a missing
// document is then reported as an error rather than not found.
//
// The blobs are sealed before they get here, so server-side encryption adds
// nothing to their secrecy; bucket versioning keeps old copies of a
// replaced blob, which are sealed too and die with the case key.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ehcledger/ehcledger/documents"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Bucket keeps blobs as objects in one bucket, under a prefix. It
// implements documents.Blobs and is safe for concurrent use.
type Bucket struct {
	client *minio.Client
	bucket string
	prefix string
}

// New keeps blobs in the bucket through client, each under the object name
// prefix/key (key alone when prefix is empty), so that one bucket can serve
// several deployments. The prefix follows the rules of documents.CheckKey;
// a trailing slash is ignored. New makes no request: a bucket that does not
// exist or cannot be reached shows at the first Put or Get.
func New(client *minio.Client, bucket, prefix string) (*Bucket, error) {
	if client == nil {
		return nil, errors.New("s3: no client was given")
	}
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return nil, fmt.Errorf("s3: the bucket name %q is not valid: %w", bucket, err)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		if err := documents.CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("s3: the prefix is not valid: %w", err)
		}
		prefix += "/"
	}
	return &Bucket{client: client, bucket: bucket, prefix: prefix}, nil
}

// Put stores data as the object for key, replacing any there. S3 makes an
// object visible only once it is wholly uploaded, in one part or many, so a
// failed Put leaves the old object or none.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) error {
	if err := documents.CheckKey(key); err != nil {
		return err
	}
	_, err := b.client.PutObject(ctx, b.bucket, b.prefix+key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("s3: %s could not be stored in bucket %s: %w", b.prefix+key, b.bucket, err)
	}
	return nil
}

// Get returns the object for key, or an error wrapping documents.ErrNotFound
// if the bucket has none.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	if err := documents.CheckKey(key); err != nil {
		return nil, err
	}
	obj, err := b.client.GetObject(ctx, b.bucket, b.prefix+key, minio.GetObjectOptions{})
	if err == nil {
		defer obj.Close()
		// The request is made at the first read, so errors show here.
		var data []byte
		if data, err = io.ReadAll(obj); err == nil {
			return data, nil
		}
	}
	// Only a missing object is not found: a missing bucket (also a 404)
	// is a misconfiguration, to be seen as one.
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code == minio.NoSuchKey {
		return nil, fmt.Errorf("%w: nothing is stored under %s in bucket %s", documents.ErrNotFound, b.prefix+key, b.bucket)
	}
	return nil, fmt.Errorf("s3: %s could not be read from bucket %s: %w", b.prefix+key, b.bucket, err)
}
