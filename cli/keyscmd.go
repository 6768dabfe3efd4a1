package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// NewMasterKeyEnv is the environment variable that may hold the new master
// key of `keys rotate` itself.
const NewMasterKeyEnv = "EHC_KEYS_NEW_MASTER_KEY"

// keysCmd manages the case-key store: keys rotate.
func keysCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usageError("keys: the only subcommand is rotate: ehcledger keys rotate [--db PATH] [--keys PATH] (--new-master-key-file F | --new-master-key-command CMD)")
	}
	return rotateKeys(ctx, args[1:], stdout)
}

// rotateKeys re-wraps every case key under a new master key, in one
// transaction of the key store (keys.Store.Rotate). It holds the key
// store's lock, so it is refused while a server or another command has the
// store open: a server would go on wrapping new keys with the old master key.
func rotateKeys(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("keys rotate")
	db, storeFlag := storeFlags(fs)
	kf := addKeyFlags(fs)
	kf.noDemo = true
	nf := keyFlags{noDemo: true,
		file:     fs.String("new-master-key-file", "", "file holding the new master key: outside the data directories, mode 0600, owned by this user, not a symbolic link"),
		command:  fs.String("new-master-key-command", "", "command whose output is the new master key, run without a shell"),
		fileFlag: "--new-master-key-file", commandFlag: "--new-master-key-command", env: NewMasterKeyEnv,
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	ss, err := storeOf(*db, *storeFlag)
	if err != nil {
		return err
	}
	views := ss.DefaultViews()
	keysPath := kf.path(views)
	if _, err := os.Stat(keysPath); err != nil {
		return fmt.Errorf("--keys: %w", err)
	}
	// The current key may be where an older version kept it, beside the
	// store: rotating away from it is how it leaves.
	current, _, err := kf.master(ctx, "keys rotate", nil, keysPath, false)
	if err != nil {
		return err
	}
	next, _, err := nf.master(ctx, "keys rotate: the new master key", dataFiles(ss, views, keysPath), keysPath, false)
	if err != nil {
		return err
	}
	if bytes.Equal(current, next) {
		return usageError("keys rotate: the new master key is the current one")
	}
	ks, err := keysAt{path: keysPath, master: current}.open(time.Now)
	if err != nil {
		return err
	}
	defer ks.Close()
	n, err := ks.Rotate(next)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-wrapped %d case keys of %s under the new master key; give it from now on.\n", n, keysPath)
	fmt.Fprintln(stdout, "The old master key opens nothing in the key store now, but still opens backups of it made before: keep it as long as they are kept.")
	if *kf.file != "" && outsideData("", *kf.file, dataFiles(ss, views, keysPath)) != nil {
		fmt.Fprintf(stdout, "The old master key %s is beside the data: move it to where the old backups' key is kept, or destroy it once they are gone.\n", *kf.file)
	}
	return nil
}
