package documents

import (
	"context"
	"fmt"
	"strings"
)

// Blobs is where a Store keeps sealed documents: a map from keys to bytes.
// A backend must make a Put all or nothing, so that a blob is found whole
// or not at all, and let a later Put under a key replace the blob.
// Package documents/blobtest is the suite a backend must pass.
type Blobs interface {
	// Put stores data under key, replacing what was there.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the data stored under key, or an error wrapping
	// ErrNotFound if there is none.
	Get(ctx context.Context, key string) ([]byte, error)
}

// maxKeyBytes bounds a key well within what file systems and object stores
// take (S3: 1024 bytes).
const maxKeyBytes = 512

// CheckKey accepts the keys a Store makes and refuses, with an error
// wrapping ErrInvalidID, any other: a key is 1 to 512 bytes of segments
// separated by single slashes, each of letters, digits, '_', '.', ':' and
// '-' and starting with a letter or digit. Backends check every key with
// it, so none can reach outside their directory or prefix however it was
// made: no segment is "." or "..", no key is absolute, and none names a
// hidden file (Dir's unfinished writes are hidden files).
func CheckKey(key string) error {
	ok := len(key) >= 1 && len(key) <= maxKeyBytes
	for _, seg := range strings.Split(key, "/") {
		if !ok {
			break
		}
		ok = seg != "" && isAlnum(seg[0])
		for i := 0; ok && i < len(seg); i++ {
			ok = isAlnum(seg[i]) || strings.IndexByte("_.:-", seg[i]) >= 0
		}
	}
	if !ok {
		return fmt.Errorf("%w: the storage key %q must be segments of letters, digits, '_', '.', ':' or '-', each starting with a letter or digit, joined by '/'", ErrInvalidID, key)
	}
	return nil
}
