// Package keys keeps one encryption key per case, so that a case's personal
// data can be sealed inside its immutable events and later made unreadable
// everywhere by destroying the key (crypto-shredding). Keys live in their own
// SQLite file, never in the event store, wrapped with a master key; erasing a
// key overwrites it on disk (secure_delete) and checkpoints the WAL so no
// copy stays behind in this file. Sealing is AES-256-GCM with the case ID as
// additional data, so a sealed value cannot be moved to another case.
//
// The master key is never stored here: the caller gives it (package cli
// takes it from outside the data directory). The file keeps a value sealed
// with it, so a store opened with another master key is refused at once
// rather than failing case by case, and Rotate re-wraps every case key under
// a new master key in one transaction. One process at a time has the file
// open: Open takes its lock (sqlitedb.LockExclusive).
package keys

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

// ErrErased says a case's key was destroyed: its personal data is gone.
var ErrErased = errors.New("the personal data of this case has been erased")

// ErrNoKey says a case never had personal data sealed.
var ErrNoKey = errors.New("this case has no personal data key")

// ErrWrongMaster says the master key given is not the one the key store's
// case keys are wrapped with; errors.Is finds it in the *domain.Error.
var ErrWrongMaster = errors.New("the master key does not open this key store")

// MasterKeySize is the length of the master key: 32 bytes (AES-256).
const MasterKeySize = 32

// Store holds the case keys.
type Store struct {
	db      *sql.DB
	lock    *sqlitedb.Lock
	path    string
	now     func() time.Time
	mu      sync.Mutex // serialises erasures and rotation
	creates chan create
	done    chan struct{}

	closeOnce sync.Once
	closeErr  error

	// masterMu guards master: a rotation takes it to write, and a new key
	// holds it to read from wrapping until it is stored, so no key is
	// stored wrapped with a master key the file no longer uses.
	masterMu sync.RWMutex
	master   cipher.AEAD
}

// create asks the writer to store a new case key.
type create struct {
	caseID  string
	wrapped []byte
	result  chan error
}

// Schema is the key store's tables, version by version; Open upgrades a
// store to the latest (sqlitedb.Migrate), and removes the copy it takes
// first once the upgrade has committed, so that no copy keeps a key a
// later erasure destroys.
var Schema = sqlitedb.Schema{What: "the key store", DropCopy: true, Migrations: []sqlitedb.Migration{
	{Baseline: true, SQL: baselineSchema},
}}

// baselineSchema is version 1: the tables of the release of 2026-12-03.
const baselineSchema = `
CREATE TABLE IF NOT EXISTS case_keys (
	case_id   TEXT PRIMARY KEY,
	wrapped   BLOB,
	created   TEXT NOT NULL,
	erased_at TEXT
);
CREATE TABLE IF NOT EXISTS meta (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);`

// masterCheck is what the key store seals with its master key, under the
// additional data masterCheckAD, to recognise the key when it is given.
var masterCheck, masterCheckAD = []byte("ehcledger key store master key check, version 1"), []byte("master-key-check")

// Open opens (or creates) the key file at path, whose keys are wrapped with
// master (MasterKeySize bytes). It takes the file's lock first: while
// another process has the file open it fails with a *domain.Error wrapping
// sqlitedb.ErrInUse. A master key other than the one the store's keys are
// wrapped with is refused with a *domain.Error wrapping ErrWrongMaster.
func Open(path string, master []byte, now func() time.Time) (*Store, error) {
	if len(master) != MasterKeySize {
		return nil, domain.Errorf(domain.Invalid, "the master key must be %d bytes, not %d", MasterKeySize, len(master))
	}
	aead, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	lock, err := sqlitedb.LockExclusive("the key store", path)
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(path, 4)
	if err == nil {
		_, err = sqlitedb.Migrate(context.Background(), db, Schema, now())
		if err == nil {
			err = checkMaster(db, aead, path)
		}
		if err != nil {
			db.Close()
		}
	}
	if err != nil {
		lock.Release()
		var de *domain.Error
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, fmt.Errorf("keys: %w", err)
	}
	s := &Store{db: db, lock: lock, path: path, master: aead, now: now, creates: make(chan create), done: make(chan struct{})}
	go s.write()
	return s, nil
}

// checkMaster refuses a master key the store's keys are not wrapped with.
// A store from before the check was kept is judged by one of its live case
// keys; then, or in a new store, the check is sealed with this key.
func checkMaster(db *sql.DB, master cipher.AEAD, path string) error {
	wrong := &domain.Error{Code: domain.Invalid, Err: ErrWrongMaster, Message: fmt.Sprintf(
		"the master key given does not open the key store %s: its case keys are wrapped with another (if it was rotated, give the new one)", path)}
	var check []byte
	err := db.QueryRow(`SELECT value FROM meta WHERE name = 'master_check'`).Scan(&check)
	if err == nil {
		if _, err := open(master, check, masterCheckAD); err != nil {
			return wrong
		}
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var caseID string
	var wrapped []byte
	err = db.QueryRow(`SELECT case_id, wrapped FROM case_keys WHERE wrapped IS NOT NULL LIMIT 1`).Scan(&caseID, &wrapped)
	switch {
	case err == nil:
		if _, err := open(master, wrapped, []byte(caseID)); err != nil {
			return wrong
		}
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	sealed, err := seal(master, masterCheck, masterCheckAD)
	if err != nil {
		return err
	}
	_, err = db.Exec(`INSERT OR IGNORE INTO meta (name, value) VALUES ('master_check', ?)`, sealed)
	return err
}

// write stores new keys, all those asked for meanwhile in one durable
// commit: opening many cases at once then costs one sync, not one each.
func (s *Store) write() {
	defer close(s.done)
	for first := range s.creates {
		batch := []create{first}
	more:
		for len(batch) < 512 {
			select {
			case c, ok := <-s.creates:
				if !ok {
					break more
				}
				batch = append(batch, c)
			default:
				break more
			}
		}
		err := s.insert(batch)
		for _, c := range batch {
			c.result <- err
		}
	}
}

func (s *Store) insert(batch []create) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := s.now().UTC().Format(time.RFC3339Nano)
	for _, c := range batch {
		// A key made at the same time for the same case loses to the first;
		// both callers then read the one stored.
		if _, err := tx.Exec(`INSERT OR IGNORE INTO case_keys (case_id, wrapped, created) VALUES (?, ?, ?)`, c.caseID, c.wrapped, now); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Close stops the writer, closes the key file and gives up its lock.
// Closing again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.creates)
		<-s.done
		s.closeErr = s.db.Close()
		if err := s.lock.Release(); s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(aead cipher.AEAD, plain, ad []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, ad), nil
}

func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("keys: sealed value too short")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], ad)
}

// caseKey returns the case's sealing key, creating it when create is set
// and the case has none.
func (s *Store) caseKey(caseID string, create bool) (cipher.AEAD, error) {
	key, err := s.rawKey(caseID, create)
	if err != nil {
		return nil, err
	}
	return newAEAD(key)
}

// rawKey returns the bytes of the case's key, creating it when create is set
// and the case has none.
func (s *Store) rawKey(caseID string, create bool) ([]byte, error) {
	// The key is read and unwrapped under one master key: a rotation
	// cannot come between.
	s.masterMu.RLock()
	var wrapped []byte
	var erased sql.NullString
	err := s.db.QueryRow(`SELECT wrapped, erased_at FROM case_keys WHERE case_id = ?`, caseID).Scan(&wrapped, &erased)
	master := s.master
	s.masterMu.RUnlock()
	switch {
	case errors.Is(err, sql.ErrNoRows) && create:
		if err := s.newKey(caseID); err != nil {
			return nil, err
		}
		return s.rawKey(caseID, false)
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNoKey
	case err != nil:
		return nil, fmt.Errorf("keys: %w", err)
	case erased.Valid:
		return nil, ErrErased
	}
	key, err := open(master, wrapped, []byte(caseID))
	if err != nil {
		return nil, fmt.Errorf("keys: the key of case %s does not open with this master key", caseID)
	}
	return key, nil
}

// newKey makes a key for the case and has the writer store it durably.
func (s *Store) newKey(caseID string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	s.masterMu.RLock()
	defer s.masterMu.RUnlock()
	wrapped, err := seal(s.master, key, []byte(caseID))
	if err != nil {
		return err
	}
	c := create{caseID: caseID, wrapped: wrapped, result: make(chan error, 1)}
	s.creates <- c
	if err := <-c.result; err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}

// Seal encrypts plain with the case's key, creating the key on first use. A
// case whose key was erased cannot take new personal data.
func (s *Store) Seal(caseID string, plain []byte) ([]byte, error) {
	aead, err := s.caseKey(caseID, true)
	if err != nil {
		return nil, err
	}
	return seal(aead, plain, []byte(caseID))
}

// macLabel separates the MAC key from the sealing key derived from one case
// key, so that neither use can stand in for the other.
const macLabel = "ehcledger/keys: request fingerprint v1"

// MAC returns a keyed fingerprint of msg under the case's key (HMAC-SHA256
// with a key derived from it), creating the key on first use. It is
// deterministic, so two equal messages have one fingerprint, and useless to
// anyone without the key: a fingerprint of low-entropy data (a date, a name)
// cannot be tested by guessing. Once the key is erased it answers ErrErased.
func (s *Store) MAC(caseID string, msg []byte) ([]byte, error) {
	key, err := s.rawKey(caseID, true)
	if err != nil {
		return nil, err
	}
	derive := hmac.New(sha256.New, key)
	derive.Write([]byte(macLabel))
	mac := hmac.New(sha256.New, derive.Sum(nil))
	mac.Write(msg)
	return mac.Sum(nil), nil
}

// Open decrypts what Seal sealed for the case; ErrErased once its key is
// destroyed.
func (s *Store) Open(caseID string, sealed []byte) ([]byte, error) {
	aead, err := s.caseKey(caseID, false)
	if err != nil {
		return nil, err
	}
	plain, err := open(aead, sealed, []byte(caseID))
	if err != nil {
		return nil, fmt.Errorf("keys: sealed data of case %s does not open with its key", caseID)
	}
	return plain, nil
}

// Erase destroys the case's key, overwriting it on disk, and keeps only the
// fact and time of erasure. Erasing twice is harmless.
func (s *Store) Erase(caseID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer conn.Close()
	now := s.now().UTC().Format(time.RFC3339Nano)
	// secure_delete overwrites the freed bytes of the old key; the WAL's
	// copy is then moved into the file and the WAL truncated, so no copy of
	// the key remains in either.
	for _, q := range []string{`PRAGMA secure_delete = ON`,
		`INSERT INTO case_keys (case_id, wrapped, created, erased_at) VALUES (?, NULL, ?, ?)
		ON CONFLICT(case_id) DO UPDATE SET wrapped = NULL, erased_at = COALESCE(erased_at, excluded.erased_at)`,
		`PRAGMA wal_checkpoint(TRUNCATE)`} {
		args := []any{}
		if q[0] == 'I' {
			args = []any{caseID, now, now}
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	}
	return nil
}

// Erased reports whether the case's key was destroyed.
func (s *Store) Erased(caseID string) (bool, error) {
	var erased sql.NullString
	err := s.db.QueryRow(`SELECT erased_at FROM case_keys WHERE case_id = ?`, caseID).Scan(&erased)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return erased.Valid, err
}

// Rotate re-wraps every live case key, and the master key check, with
// newMaster, in one transaction: either all are under the new key or, on any
// failure, all stay under the old one. The old wrapped values are overwritten
// on disk (secure_delete) and the WAL is checkpointed and truncated, so the
// old master key opens nothing in this file afterwards; it still opens the
// copies of the file taken before, so backups made before a rotation need
// it. It returns the number of keys re-wrapped.
func (s *Store) Rotate(newMaster []byte) (int, error) {
	if len(newMaster) != MasterKeySize {
		return 0, domain.Errorf(domain.Invalid, "the new master key must be %d bytes, not %d", MasterKeySize, len(newMaster))
	}
	next, err := newAEAD(newMaster)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.masterMu.Lock()
	defer s.masterMu.Unlock()
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	n, err := s.rewrap(ctx, conn, next)
	if err != nil {
		return 0, err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return n, fmt.Errorf("keys: the keys were re-wrapped but the log was not truncated: %w", err)
	}
	s.master = next
	return n, nil
}

// rewrap is the transaction of Rotate.
func (s *Store) rewrap(ctx context.Context, conn *sql.Conn, next cipher.AEAD) (int, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	defer tx.Rollback()
	type row struct {
		caseID  string
		wrapped []byte
	}
	var live []row
	rows, err := tx.QueryContext(ctx, `SELECT case_id, wrapped FROM case_keys WHERE wrapped IS NOT NULL ORDER BY case_id`)
	if err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.caseID, &r.wrapped); err != nil {
			rows.Close()
			return 0, fmt.Errorf("keys: %w", err)
		}
		live = append(live, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	for _, r := range live {
		key, err := open(s.master, r.wrapped, []byte(r.caseID))
		if err != nil {
			return 0, domain.Errorf(domain.Invalid, "the key of case %s does not open with the current master key: nothing was rotated", r.caseID)
		}
		wrapped, err := seal(next, key, []byte(r.caseID))
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE case_keys SET wrapped = ? WHERE case_id = ?`, wrapped, r.caseID); err != nil {
			return 0, fmt.Errorf("keys: %w", err)
		}
	}
	check, err := seal(next, masterCheck, masterCheckAD)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ('master_check', ?)
		ON CONFLICT(name) DO UPDATE SET value = excluded.value`, check); err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	return len(live), nil
}

// ParseMasterKey reads a master key as given from outside: 32 raw bytes, or
// text (a trailing newline allowed) of 64 hexadecimal digits, as `openssl
// rand -hex 32` prints, or of standard base64, as a KMS prints. A key whose
// bytes are all the same (a file of zeros) is refused: it protects nothing.
func ParseMasterKey(b []byte) ([]byte, error) {
	key := b
	if len(b) != MasterKeySize {
		text := bytes.TrimRight(b, " \t\r\n")
		var err error
		switch {
		case len(text) == 2*MasterKeySize:
			key, err = hex.DecodeString(string(text))
		default:
			key, err = base64.StdEncoding.DecodeString(string(text))
		}
		if err != nil || len(key) != MasterKeySize {
			return nil, domain.Errorf(domain.Invalid, "a master key is %d bytes, given as 64 hexadecimal digits (openssl rand -hex 32) or in base64; "+
				"this is neither (%d bytes)", MasterKeySize, len(b))
		}
	}
	if bytes.Count(key, key[:1]) == len(key) {
		return nil, domain.Errorf(domain.Invalid, "the master key has the same byte %d times: make one with openssl rand -hex 32", len(key))
	}
	return key, nil
}
