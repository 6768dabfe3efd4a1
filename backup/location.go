// Package backup takes consistent copies of a running event store and of
// its key store, keeps them in a directory or in S3-compatible object
// storage with a manifest that lets each be checked on its own, and restores
// a store from them (docs/operations.md).
//
// A backup is a folder, backups/ID/ under a location, holding the
// compressed SQLite file and manifest.json, written last: a backup without
// its manifest was never finished and is ignored.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNotFound says a location holds nothing under a name.
var ErrNotFound = errors.New("backup: no such object")

// Location is where backups are kept: a directory or an S3 prefix. Names
// are slash-separated and relative.
type Location interface {
	// Put stores what r yields under name, visible to Get and List only
	// once whole: an interrupted Put leaves nothing, or what was there.
	Put(ctx context.Context, name string, r io.Reader) error
	// Get opens the object under name; an error wrapping ErrNotFound when
	// there is none.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// List returns the names under prefix that sort after after ("" for
	// all), sorted: a restore lists only the segments it needs.
	List(ctx context.Context, prefix, after string) ([]string, error)
	// String names the location for messages.
	String() string
}

// checkName refuses a name that could leave the location.
func checkName(name string) error {
	if name == "" || path.IsAbs(name) || strings.Contains(name, "\\") || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("backup: %q is not a name inside a location", name)
	}
	return nil
}

// Dir is a location on a file system: a local disk, or a mounted share.
type Dir struct {
	Root string
}

// String names the directory.
func (d Dir) String() string { return d.Root }

// Put writes to a temporary file beside the name, syncs it, renames it into
// place and syncs the directory, so that the object survives a power cut
// once Put returns and never shows half-written.
func (d Dir) Put(ctx context.Context, name string, r io.Reader) (err error) {
	if err := checkName(name); err != nil {
		return err
	}
	final := filepath.Join(d.Root, filepath.FromSlash(name))
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(final)+".partial-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = io.Copy(f, readerWithContext{ctx, r}); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), final); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	df, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer df.Close()
	return df.Sync()
}

// Get opens the file under name.
func (d Dir) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(d.Root, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s in %s", ErrNotFound, name, d.Root)
	}
	return f, err
}

// List walks the directory under prefix; unfinished files are left out.
func (d Dir) List(ctx context.Context, prefix, after string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == d.Root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(d.Root, p)
		if err != nil {
			return err
		}
		if name := filepath.ToSlash(rel); strings.HasPrefix(name, prefix) && name > after {
			names = append(names, name)
		}
		return ctx.Err()
	})
	slices.Sort(names)
	return names, err
}

// readerWithContext stops a copy when its context ends.
type readerWithContext struct {
	ctx context.Context
	r   io.Reader
}

func (r readerWithContext) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
