package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CopyInto copies the database db as of one instant into the new file dst,
// without stopping its writers (VACUUM INTO reads one snapshot). The file
// is made private (0600) before anything is written to it, and is synced
// with its directory before CopyInto returns, so that a copy taken before
// a change survives a power cut during it. A file already at dst is an
// error, and left alone; on any other failure dst is removed.
func CopyInto(ctx context.Context, db *sql.DB, dst string) (err error) {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(dst)
		}
	}()
	// SQLite writes into an empty file as into a missing one.
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("copying into %s: %w", dst, err)
	}
	if f, err = os.Open(dst); err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
