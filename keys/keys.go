// Package keys keeps one encryption key per case, so that a case's personal
// data can be sealed inside its immutable events and later made unreadable
// everywhere by destroying the key (crypto-shredding). Keys live in their own
// SQLite file, never in the event store, wrapped with a master key; erasing a
// key overwrites it on disk (secure_delete) and checkpoints the WAL so no
// copy stays behind in this file. Sealing is AES-256-GCM with the case ID as
// additional data, so a sealed value cannot be moved to another case.
package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ehcledger/ehcledger/sqlitedb"
)

// ErrErased says a case's key was destroyed: its personal data is gone.
var ErrErased = errors.New("the personal data of this case has been erased")

// ErrNoKey says a case never had personal data sealed.
var ErrNoKey = errors.New("this case has no personal data key")

// MasterKeySize is the length of the master key: 32 bytes (AES-256).
const MasterKeySize = 32

// Store holds the case keys.
type Store struct {
	db      *sql.DB
	master  cipher.AEAD
	now     func() time.Time
	mu      sync.Mutex // serialises erasures
	creates chan create
	done    chan struct{}
}

// create asks the writer to store a new case key.
type create struct {
	caseID  string
	wrapped []byte
	result  chan error
}

const schema = `
CREATE TABLE IF NOT EXISTS case_keys (
	case_id   TEXT PRIMARY KEY,
	wrapped   BLOB,
	created   TEXT NOT NULL,
	erased_at TEXT
);`

// Open opens (or creates) the key file at path, whose keys are wrapped with
// master (MasterKeySize bytes).
func Open(path string, master []byte, now func() time.Time) (*Store, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("keys: the master key must be %d bytes, not %d", MasterKeySize, len(master))
	}
	aead, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(path, 4)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	s := &Store{db: db, master: aead, now: now, creates: make(chan create), done: make(chan struct{})}
	go s.write()
	return s, nil
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

// Close stops the writer and closes the key file.
func (s *Store) Close() error {
	close(s.creates)
	<-s.done
	return s.db.Close()
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

// caseKey returns the case's key, creating it when create is set and the
// case has none.
func (s *Store) caseKey(caseID string, create bool) (cipher.AEAD, error) {
	var wrapped []byte
	var erased sql.NullString
	err := s.db.QueryRow(`SELECT wrapped, erased_at FROM case_keys WHERE case_id = ?`, caseID).Scan(&wrapped, &erased)
	switch {
	case errors.Is(err, sql.ErrNoRows) && create:
		if err := s.newKey(caseID); err != nil {
			return nil, err
		}
		return s.caseKey(caseID, false)
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNoKey
	case err != nil:
		return nil, fmt.Errorf("keys: %w", err)
	case erased.Valid:
		return nil, ErrErased
	}
	key, err := open(s.master, wrapped, []byte(caseID))
	if err != nil {
		return nil, fmt.Errorf("keys: the key of case %s does not open with this master key", caseID)
	}
	return newAEAD(key)
}

// newKey makes a key for the case and has the writer store it durably.
func (s *Store) newKey(caseID string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
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

// LoadOrCreateMaster reads the master key from path, or, when the file does
// not exist and create is set, makes one and writes it with mode 0600 (for
// development; production gives the file from its secret store).
func LoadOrCreateMaster(path string, create bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		b = make([]byte, MasterKeySize)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("keys: master key: %w", err)
		}
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("keys: master key file %s holds %d bytes, not %d", path, len(b), MasterKeySize)
	}
	return b, nil
}
