package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/keys"
)

// MasterKeyEnv is the environment variable that may hold the key store's
// master key itself (64 hexadecimal digits or base64), as a secret store
// injects it into a container.
const MasterKeyEnv = "EHC_KEYS_MASTER_KEY"

// keyCommandTimeout bounds how long a --master-key-command may run.
var keyCommandTimeout = 30 * time.Second

// maxKeyCommandOutput bounds what a --master-key-command may print: a key
// in hexadecimal is 64 bytes, so anything near this is not a key.
const maxKeyCommandOutput = 4096

// keyFlags are where a command that opens the case keys finds them and
// their master key. The master key never lives with the data it protects:
// a backup of the data directory that held it would open every case it
// holds, erased ones included.
type keyFlags struct {
	keys, file, command *string
	// fileFlag, commandFlag and env name where the key is given, in errors.
	fileFlag, commandFlag, env string
	// noDemo says the command has no --demo to offer in its errors.
	noDemo bool
}

// addKeyFlags adds --keys, --master-key-file and --master-key-command.
func addKeyFlags(fs *flag.FlagSet) keyFlags {
	return keyFlags{
		keys: fs.String("keys", envOr("EHC_KEYS", ""), "case-key store file (default: DB.keys, beside the views)"),
		file: fs.String("master-key-file", envOr("EHC_KEYS_MASTER_KEY_FILE", ""),
			"file holding the key store's master key: outside the data directories, mode 0600, owned by this user, not a symbolic link"),
		command: fs.String("master-key-command", envOr("EHC_KEYS_MASTER_KEY_COMMAND", ""),
			"command whose output is the master key (a KMS or secret-store client); split at spaces and run without a shell, for at most 30s"),
		fileFlag: "--master-key-file", commandFlag: "--master-key-command", env: MasterKeyEnv,
	}
}

// path is the key store of the views at views: --keys, else beside them.
func (f keyFlags) path(views string) string {
	if *f.keys != "" {
		return *f.keys
	}
	return KeysPath(views)
}

// dataFile is a file of a store, named for people.
type dataFile struct{ what, path string }

// noMasterKey says how to give the master key.
func (f keyFlags) noMasterKey(cmd string) error {
	msg := cmd + ": give the key store's master key from outside the data directory: " + f.fileFlag + " FILE " +
		"(mode 0600, not beside the store), " + f.commandFlag + " 'CMD ARGS' (a KMS client that prints it), or the environment variable " +
		f.env + " (make a key with: openssl rand -hex 32)"
	if !f.noDemo {
		msg += "; --demo keeps a development key beside the store instead"
	}
	return usageError(msg)
}

// master reads the master key for the key store at keysPath, whose data
// lies in the files of data. Exactly one source may be given: a file
// outside every directory of data, a command, or the environment variable. With none,
// a demo (demo set) uses the development key beside the key store, made on
// first use; anything else is refused. dev reports the development key.
func (f keyFlags) master(ctx context.Context, cmd string, data []dataFile, keysPath string, demo bool) (key []byte, dev bool, err error) {
	var given []string
	if *f.file != "" {
		given = append(given, f.fileFlag)
	}
	if *f.command != "" {
		given = append(given, f.commandFlag)
	}
	env := os.Getenv(f.env)
	if env != "" {
		given = append(given, f.env)
	}
	switch {
	case len(given) > 1:
		return nil, false, usageError(cmd + ": give the master key one way, not several: " + strings.Join(given, " and "))
	case *f.file != "":
		key, err = masterFromFile(f.fileFlag, *f.file, data)
	case *f.command != "":
		key, err = masterFromCommand(ctx, f.commandFlag, *f.command)
	case env != "":
		// Text only: 32 characters would otherwise be taken as the raw
		// key, and a 32-character password is no key.
		if len(env) == keys.MasterKeySize {
			return nil, false, usageError(f.env + ": give the key as 64 hexadecimal digits (openssl rand -hex 32) or base64, not 32 characters")
		}
		key, err = keys.ParseMasterKey([]byte(env))
		if err != nil {
			err = usageError(f.env + ": " + domain.ErrorMessage(err))
		}
	case demo:
		key, err = devMaster(keysPath + ".master")
		return key, err == nil, err
	default:
		return nil, false, f.noMasterKey(cmd)
	}
	return key, false, err
}

// masterFromFile reads a master key from a file that must be outside the
// directories of the data, private to this user and no symbolic link.
func masterFromFile(flag, path string, data []dataFile) ([]byte, error) {
	if err := outsideData(flag, path, data); err != nil {
		return nil, err
	}
	b, err := readPrivateFile(path)
	if err != nil {
		return nil, usageError(fmt.Sprintf("%s: %s: %v", flag, path, err))
	}
	key, err := keys.ParseMasterKey(b)
	if err != nil {
		return nil, usageError(flag + ": " + path + ": " + domain.ErrorMessage(err))
	}
	return key, nil
}

// outsideData refuses a key file in the directory of any data file, or
// below it, symbolic links resolved: a backup of that directory would hold
// the key beside what it protects.
func outsideData(flag, path string, data []dataFile) error {
	keyDir, err := realDir(path)
	if err != nil {
		return usageError(fmt.Sprintf("%s: %s: %v", flag, path, err))
	}
	for _, d := range data {
		dir, err := realDir(d.path)
		if err != nil {
			continue // a directory that does not exist holds no key
		}
		if rel, err := filepath.Rel(dir, keyDir); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return usageError(fmt.Sprintf("%s: %s is in %s, the directory of %s (%s): a backup of that directory would hold the master key "+
				"beside the data it protects; keep it elsewhere, such as /etc/ehcledger or the secret store's mount", flag, path, dir, d.what, d.path))
		}
	}
	return nil
}

// realDir is the directory of path, absolute and with symbolic links
// resolved.
func realDir(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(filepath.Dir(abs))
}

// masterFromCommand runs a command that prints the master key, as a KMS or
// secret-store client does. It is split at spaces and run without a shell
// (no quoting, variables or globbing), with the process's environment (the
// client's credentials), for at most keyCommandTimeout; it may print at
// most maxKeyCommandOutput bytes.
func masterFromCommand(ctx context.Context, flag, line string) ([]byte, error) {
	args := strings.Fields(line)
	if len(args) == 0 {
		return nil, usageError(flag + ": no command given")
	}
	ctx, cancel := context.WithTimeout(ctx, keyCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	stdout := &boundedBuffer{max: maxKeyCommandOutput, full: cancel}
	stderr := &boundedBuffer{max: maxKeyCommandOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A child the command leaves behind holding its output open does not
	// keep us waiting past the timeout.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case stdout.overflow:
		return nil, usageError(fmt.Sprintf("%s: %s printed more than %d bytes: a master key is 64 hexadecimal digits or base64", flag, args[0], maxKeyCommandOutput))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, usageError(fmt.Sprintf("%s: %s did not finish within %s", flag, args[0], keyCommandTimeout))
	case err != nil:
		msg := fmt.Sprintf("%s: %s failed: %v", flag, args[0], err)
		if line := firstLine(stderr.Bytes()); line != "" {
			msg += ": " + line
		}
		return nil, usageError(msg)
	}
	key, err := keys.ParseMasterKey(stdout.Bytes())
	if err != nil {
		return nil, usageError(fmt.Sprintf("%s: what %s printed: %s", flag, args[0], domain.ErrorMessage(err)))
	}
	return key, nil
}

// boundedBuffer keeps at most max bytes; past them it notes the overflow,
// calls full (to stop the command) and refuses to take more. It is only an
// io.Writer, so that io.Copy cannot go round Write (a bytes.Buffer's
// ReadFrom would take all there is).
type boundedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
	full     func()
}

// Write implements io.Writer.
func (b *boundedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		b.overflow = true
		if b.full != nil {
			b.full()
		}
		return 0, errors.New("too much output")
	}
	return b.buf.Write(p)
}

// Bytes is what was kept.
func (b *boundedBuffer) Bytes() []byte { return b.buf.Bytes() }

// firstLine is the first line of a command's complaint, without control
// characters and at most 200 characters long, to show the operator.
func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	line = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, line)
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return line
}

// devMaster reads the development master key at path, or makes one there,
// readable by its owner only: for `serve --demo` and synthetic stores,
// whose key may live beside their data. It is written to a temporary file
// and linked into place, so that two starts never make two keys, and read
// back with the checks of readPrivateFile.
func devMaster(path string) ([]byte, error) {
	key := make([]byte, keys.MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return nil, fmt.Errorf("--demo: making the development master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(key)
		if err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("--demo: writing the development master key: %w", err)
	}
	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
		return key, nil
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("--demo: making the development master key: %w", err)
	}
	b, err := readPrivateFile(path)
	if err == nil {
		key, err = keys.ParseMasterKey(b)
	}
	if err != nil {
		return nil, usageError(fmt.Sprintf("--demo: the development master key %s: %s", path, errorText(err)))
	}
	return key, nil
}

// errorText is what an error may show: a domain error's message, or the
// text of an operating system error about a file the operator named.
func errorText(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return domain.ErrorMessage(err)
	}
	return err.Error()
}

// scratch is the master key of this process's scratch stores, made once.
var scratch struct {
	once sync.Once
	key  []byte
	err  error
}

// scratchMaster is a master key made for this process and never written
// down: what is sealed with it cannot be opened once the process ends. It
// is the same for every scratch store of the process, so that one may be
// closed and opened again.
func scratchMaster() ([]byte, error) {
	scratch.once.Do(func() {
		key := make([]byte, keys.MasterKeySize)
		if _, err := rand.Read(key); err != nil {
			scratch.err = err
			return
		}
		scratch.key = key
	})
	return scratch.key, scratch.err
}
