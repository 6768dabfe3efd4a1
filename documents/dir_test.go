package documents_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/documents"
	"github.com/ehcledger/ehcledger/documents/blobtest"
)

func TestDirConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) documents.Blobs {
		return newDir(t, t.TempDir())
	})
}

// newDir opens root as a Dir or fails the test.
func newDir(t *testing.T, root string) *documents.Dir {
	t.Helper()
	d, err := documents.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDir(t *testing.T) {
	ctx := context.Background()

	t.Run("files are made 0600 and directories 0700", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "blobs")
		d := newDir(t, root)
		if err := d.Put(ctx, "cases/c1/doc", []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if e.IsDir() {
				want = fs.ModeDir | 0o700
			}
			if info.Mode() != want {
				t.Errorf("%s has mode %v, want %v", path, info.Mode(), want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a put leaves only the blob, no temporary file", func(t *testing.T) {
		root := t.TempDir()
		d := newDir(t, root)
		for range 3 {
			if err := d.Put(ctx, "cases/c1/doc", []byte("sealed")); err != nil {
				t.Fatal(err)
			}
		}
		entries, err := os.ReadDir(filepath.Join(root, "cases", "c1"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "doc" {
			t.Fatalf("the case directory holds %v, want only doc", entries)
		}
	})

	// A write killed before its rename leaves a temporary file: it must
	// not be taken for the blob, nor be reachable by any key.
	t.Run("an unfinished write is not found under the key", func(t *testing.T) {
		root := t.TempDir()
		d := newDir(t, root)
		dir := filepath.Join(root, "cases", "c1")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".put-123"), []byte("half a blo"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Get(ctx, "cases/c1/doc"); !errors.Is(err, documents.ErrNotFound) {
			t.Errorf("got %v, want documents.ErrNotFound", err)
		}
		if _, err := d.Get(ctx, "cases/c1/.put-123"); !errors.Is(err, documents.ErrInvalidID) {
			t.Errorf("got %v, want documents.ErrInvalidID", err)
		}
	})

	t.Run("a key cannot reach a file beside the directory", func(t *testing.T) {
		parent := t.TempDir()
		secret := filepath.Join(parent, "secret")
		if err := os.WriteFile(secret, []byte("not a blob"), 0o600); err != nil {
			t.Fatal(err)
		}
		d := newDir(t, filepath.Join(parent, "blobs"))
		for _, key := range []string{"../secret", "cases/../../secret", secret} {
			if got, err := d.Get(ctx, key); !errors.Is(err, documents.ErrInvalidID) {
				t.Errorf("get %q: got %q, %v; want documents.ErrInvalidID", key, got, err)
			}
			if err := d.Put(ctx, key, []byte("overwritten")); !errors.Is(err, documents.ErrInvalidID) {
				t.Errorf("put %q: got %v, want documents.ErrInvalidID", key, err)
			}
		}
		if b, _ := os.ReadFile(secret); string(b) != "not a blob" {
			t.Fatalf("the file beside the directory now holds %q", b)
		}
	})

	t.Run("a relative directory is kept as an absolute one", func(t *testing.T) {
		t.Chdir(t.TempDir())
		d := newDir(t, "blobs")
		if err := d.Put(ctx, "cases/c1/doc", []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		t.Chdir(t.TempDir())
		if got, err := d.Get(ctx, "cases/c1/doc"); err != nil || string(got) != "sealed" {
			t.Fatalf("got %q, %v after changing directory", got, err)
		}
	})

	t.Run("a directory that cannot be made is refused with its path", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := documents.NewDir(filepath.Join(file, "blobs"))
		if err == nil || !strings.Contains(err.Error(), file) {
			t.Fatalf("got %v, want an error naming %s", err, file)
		}
	})
}
