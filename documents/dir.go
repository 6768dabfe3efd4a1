package documents

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Dir keeps blobs as files in a local directory, one file per key (a key's
// slashes make subdirectories). Files are created readable by their owner
// only (0600) and directories 0700: sealed documents need no other reader.
//
// A blob is written to a temporary file beside its final name, flushed to
// disk and then renamed, so a crash or kill -9 mid-write leaves the old blob
// or none under the key, never part of one. An unfinished write can leave a
// temporary file, whose name starts with ".put-" (no key names a hidden
// file); such files are safe to remove when no Put is running.
type Dir struct {
	root string
}

// NewDir opens the directory root as a Dir, creating it (0700) if missing.
func NewDir(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("documents: the directory %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("documents: the directory %s could not be made: %w", abs, err)
	}
	return &Dir{root: abs}, nil
}

// Put stores data under key, replacing any blob there, all or nothing.
func (d *Dir) Put(ctx context.Context, key string, data []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	path := d.path(key)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("documents: the directory for %s could not be made: %w", key, err)
	}
	// CreateTemp makes the file 0600 with a name no other Put uses.
	tmp, err := os.CreateTemp(dir, ".put-*")
	if err != nil {
		return fmt.Errorf("documents: %s could not be written: %w", key, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("documents: %s could not be written: %w", key, err)
	}
	// The content must be on disk before the name points at it, or a
	// power cut could leave the final name on an empty or short file.
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("documents: %s could not be flushed to disk: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("documents: %s could not be written: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("documents: %s could not be put in place: %w", key, err)
	}
	renamed = true
	// The rename, and any directory made for it, last only once each
	// directory up to the root is flushed too.
	for {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("documents: %s could not be flushed to disk: %w", key, err)
		}
		if dir == d.root || dir == filepath.Dir(dir) {
			return nil
		}
		dir = filepath.Dir(dir)
	}
}

// Get returns the blob under key, or an error wrapping ErrNotFound.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(d.path(key))
	// A key naming a directory, or under a file, has no blob either.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTDIR) {
		return nil, fmt.Errorf("%w: nothing is stored under %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("documents: %s could not be read: %w", key, err)
	}
	return data, nil
}

// path is the file of a checked key.
func (d *Dir) path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

// syncDir flushes a directory's entries to disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
