package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// s3PartSize is the size of each part of an upload: the client would
// otherwise buffer parts sized for a 5 TiB object (over 500 MB each) when
// the length is not known beforehand, as a compressed stream's is not.
const s3PartSize = 16 << 20

// Bucket is a location in S3-compatible object storage: a prefix of a
// bucket. S3 shows an object only once its upload is complete, so a Put
// that fails leaves nothing new. The credentials need s3:PutObject,
// s3:GetObject and s3:ListBucket on the prefix; with object lock or
// versioning on the bucket, a backup outlives a deletion by whoever holds
// them.
type Bucket struct {
	client *minio.Client
	bucket string
	prefix string
}

// NewBucket is the location prefix/ of bucket, through client. It makes no
// request: an unreachable or missing bucket shows at the first use.
func NewBucket(client *minio.Client, bucket, prefix string) (*Bucket, error) {
	if client == nil {
		return nil, errors.New("backup: no S3 client was given")
	}
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return nil, fmt.Errorf("backup: the bucket name %q is not valid: %w", bucket, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := checkName(prefix); err != nil {
			return nil, err
		}
		prefix += "/"
	}
	return &Bucket{client: client, bucket: bucket, prefix: prefix}, nil
}

// String names the location as s3://bucket/prefix.
func (b *Bucket) String() string {
	return strings.TrimSuffix("s3://"+b.bucket+"/"+strings.TrimSuffix(b.prefix, "/"), "/")
}

// Put uploads what r yields: in one request, with its length, when it is
// under a part's size (some servers want the length of a small object),
// and in parts otherwise.
func (b *Bucket) Put(ctx context.Context, name string, r io.Reader) error {
	if err := checkName(name); err != nil {
		return err
	}
	head := make([]byte, s3PartSize)
	n, err := io.ReadFull(r, head)
	size := int64(-1)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		size, r = int64(n), bytes.NewReader(head[:n])
	case err != nil:
		return fmt.Errorf("backup: reading %s for %s: %w", name, b, err)
	default:
		r = io.MultiReader(bytes.NewReader(head), r)
	}
	_, err = b.client.PutObject(ctx, b.bucket, b.prefix+name, r, size,
		minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: s3PartSize})
	if err != nil {
		return fmt.Errorf("backup: %s could not be stored in %s: %w", name, b, err)
	}
	return nil
}

// Get opens the object; it asks for it at once, so that a missing object
// is an error here and not at the first read.
func (b *Bucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	obj, err := b.client.GetObject(ctx, b.bucket, b.prefix+name, minio.GetObjectOptions{})
	if err == nil {
		if _, err = obj.Stat(); err == nil {
			return obj, nil
		}
		obj.Close()
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code == minio.NoSuchKey {
		return nil, fmt.Errorf("%w: %s in %s", ErrNotFound, name, b)
	}
	return nil, fmt.Errorf("backup: %s could not be read from %s: %w", name, b, err)
}

// List lists the objects under prefix, from after on.
func (b *Bucket) List(ctx context.Context, prefix, after string) ([]string, error) {
	var names []string
	opts := minio.ListObjectsOptions{Prefix: b.prefix + prefix, Recursive: true}
	if after != "" {
		opts.StartAfter = b.prefix + after
	}
	for obj := range b.client.ListObjects(ctx, b.bucket, opts) {
		if obj.Err != nil {
			return nil, fmt.Errorf("backup: listing %s: %w", b, obj.Err)
		}
		if name := strings.TrimPrefix(obj.Key, b.prefix); name > after {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}
