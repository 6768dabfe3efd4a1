// Package documents keeps the files that families and professionals upload
// to a case (advice, views, representations on a draft plan), encrypted with
// the case's key and addressed by their content.
//
// A document's ID is the SHA-256 of its plaintext, so the same file uploaded
// twice to a case is stored once, and what comes back can be checked against
// the ID it was asked for. Each document is sealed with its case's key
// before it reaches storage and stored under a key naming the case, so
// erasing the case key makes every document of the case unreadable
// (crypto-shredding) without finding and deleting them, and nothing stored
// for one case can be read as another's. Before anything is stored, an
// upload is held to a size limit, its type is judged by its content (PDF,
// Word .docx, PNG or JPEG) and a virus scanner is asked about it.
//
// Storage is behind the small Blobs interface: Dir keeps documents in a
// local directory, and package documents/s3 in S3-compatible object storage.
package documents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The errors a person uploading or asking for a document can cause. Callers
// tell them apart with errors.Is; their messages are plain English and may
// be shown as they are.
var (
	// ErrTooLarge says an upload is over the store's size limit.
	ErrTooLarge = errors.New("the file is too large")
	// ErrType says an upload is not a PDF, Word (.docx), PNG or JPEG file.
	ErrType = errors.New("the file is not of a type accepted here: only PDF, Word (.docx), PNG and JPEG files are accepted")
	// ErrInfected says the virus scanner found a virus in an upload.
	ErrInfected = errors.New("a virus was found in the file, so it was not accepted")
	// ErrNotFound says there is no such document (or, from a Blobs, no
	// blob under the key).
	ErrNotFound = errors.New("the document was not found")
	// ErrInvalidID says a case ID, document ID or storage key is not of
	// the form the store accepts, so it cannot name a document.
	ErrInvalidID = errors.New("not a valid identifier")
)

// ErrScanFailed says the virus scanner could not give an answer. The store
// fails closed: an upload that could not be scanned is not stored.
var ErrScanFailed = errors.New("the file could not be checked for viruses, so it was not accepted")

// ErrTampered says a stored document opened to content other than its ID
// names: the storage was altered behind the store's back.
var ErrTampered = errors.New("the stored document does not match its ID: it has been altered")

// DefaultMaxSize is the size limit of an upload when Config.MaxSize is 0:
// 20 MiB, enough for a scanned report of many pages.
const DefaultMaxSize = 20 << 20

// Sealer encrypts and decrypts a case's data with the case's key.
// keys.Store is one: it seals with AES-256-GCM under the case ID as
// additional data and answers keys.ErrErased once the key is erased. The
// store passes its errors on wrapped, so callers can test them with
// errors.Is.
type Sealer interface {
	// Seal encrypts plain with the case's key.
	Seal(caseID string, plain []byte) ([]byte, error)
	// Open decrypts what Seal sealed for the same case.
	Open(caseID string, sealed []byte) ([]byte, error)
}

// Document describes a stored document.
type Document struct {
	// SHA256 is the document's ID: the lowercase hex SHA-256 of its
	// plaintext.
	SHA256 string `json:"sha256"`
	// Size is the length of the plaintext in bytes.
	Size int64 `json:"size"`
	// MediaType is the type found in the content: one of MediaPDF,
	// MediaDOCX, MediaPNG and MediaJPEG.
	MediaType string `json:"media_type"`
	// Name is the file name the uploader gave, reduced to a safe base name
	// (see Put). Get leaves it empty: the store keeps only the content,
	// which may have been uploaded under several names, so the name is
	// the caller's to record (it may be personal data, to seal as such).
	Name string `json:"name,omitempty"`
}

// Config is what a Store is made from.
type Config struct {
	// Blobs is where the sealed documents are kept.
	Blobs Blobs
	// Sealer seals documents with their case's key.
	Sealer Sealer
	// Scanner checks uploads for viruses. It must be given: NoScan, for
	// development only, has to be chosen on purpose.
	Scanner Scanner
	// MaxSize is the largest upload accepted, in bytes; 0 means
	// DefaultMaxSize.
	MaxSize int64
}

// Store keeps the documents of cases. It is safe for concurrent use when its
// Blobs, Sealer and Scanner are.
type Store struct {
	blobs   Blobs
	sealer  Sealer
	scanner Scanner
	maxSize int64
}

// New makes a Store. Blobs, Sealer and Scanner are required.
func New(c Config) (*Store, error) {
	switch {
	case c.Blobs == nil:
		return nil, errors.New("documents: no storage (Blobs) was given")
	case c.Sealer == nil:
		return nil, errors.New("documents: no Sealer was given")
	case c.Scanner == nil:
		return nil, errors.New("documents: no virus Scanner was given (NoScan accepts everything, for development only)")
	case c.MaxSize < 0:
		return nil, fmt.Errorf("documents: the size limit %d is negative", c.MaxSize)
	}
	limit := c.MaxSize
	if limit == 0 {
		limit = DefaultMaxSize
	}
	return &Store{blobs: c.Blobs, sealer: c.Sealer, scanner: c.Scanner, maxSize: limit}, nil
}

// Put reads an upload for the case and stores it, unless it is over the size
// limit (ErrTooLarge), not a PDF, Word (.docx), PNG or JPEG file by its
// content (ErrType) or refused by the virus scanner (ErrInfected, or
// ErrScanFailed when the scanner gave no answer); a refused upload stores
// nothing. It reads at most one byte over the limit, so an endless upload
// costs no more than a large one.
//
// The declared name is only kept in the Document returned, reduced to its
// base name (after the last / or \, since browsers on Windows may send a
// whole path), without control or text-direction characters (which can
// disguise an extension, as in "report\u202Efdp.exe"), and cut to at most
// 200 bytes keeping its extension; an empty name becomes "document" with the
// extension of the type found.
//
// Storing a document the case already holds stores it again under the same
// key: the result is the same.
func (s *Store) Put(ctx context.Context, caseID string, r io.Reader, declaredName string) (Document, error) {
	if err := checkCaseID(caseID); err != nil {
		return Document{}, err
	}
	data, err := io.ReadAll(io.LimitReader(r, s.maxSize+1))
	if err != nil {
		return Document{}, fmt.Errorf("documents: the upload could not be read: %w", err)
	}
	if int64(len(data)) > s.maxSize {
		return Document{}, fmt.Errorf("%w: files of up to %s are accepted", ErrTooLarge, sizeInWords(s.maxSize))
	}
	mediaType, err := sniff(data)
	if err != nil {
		return Document{}, err
	}
	if err := s.scanner.Scan(ctx, data); err != nil {
		if errors.Is(err, ErrInfected) || errors.Is(err, ErrScanFailed) {
			return Document{}, err
		}
		// A scanner that did not say it found a virus gave no answer:
		// fail closed, and say so in the words callers test for.
		return Document{}, fmt.Errorf("%w: %w", ErrScanFailed, err)
	}
	sum := sha256.Sum256(data)
	doc := Document{
		SHA256:    hex.EncodeToString(sum[:]),
		Size:      int64(len(data)),
		MediaType: mediaType,
		Name:      sanitiseName(declaredName, mediaType),
	}
	sealed, err := s.sealer.Seal(caseID, data)
	if err != nil {
		return Document{}, fmt.Errorf("documents: the document could not be sealed with the key of case %s: %w", caseID, err)
	}
	if err := s.blobs.Put(ctx, blobKey(caseID, doc.SHA256), sealed); err != nil {
		return Document{}, fmt.Errorf("documents: the document could not be stored: %w", err)
	}
	return doc, nil
}

// Get returns the content of the case's document with the given ID and its
// description (without a name: see Document.Name). It fails with
// ErrNotFound if the case has no such document, with the Sealer's error
// (such as keys.ErrErased) if it does not open, and with ErrTampered if it
// opens to content whose SHA-256 is not its ID.
func (s *Store) Get(ctx context.Context, caseID, sha256Hex string) ([]byte, Document, error) {
	if err := checkCaseID(caseID); err != nil {
		return nil, Document{}, err
	}
	if err := checkHash(sha256Hex); err != nil {
		return nil, Document{}, err
	}
	sealed, err := s.blobs.Get(ctx, blobKey(caseID, sha256Hex))
	if errors.Is(err, ErrNotFound) {
		return nil, Document{}, fmt.Errorf("%w: case %s has no document %s", ErrNotFound, caseID, sha256Hex)
	}
	if err != nil {
		return nil, Document{}, fmt.Errorf("documents: document %s of case %s could not be read: %w", sha256Hex, caseID, err)
	}
	data, err := s.sealer.Open(caseID, sealed)
	if err != nil {
		return nil, Document{}, fmt.Errorf("documents: document %s of case %s could not be opened: %w", sha256Hex, caseID, err)
	}
	// The seal binds a blob to its case but not to its key within the
	// case: the hash is what shows this is the document asked for.
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != sha256Hex {
		return nil, Document{}, fmt.Errorf("%w (document %s of case %s)", ErrTampered, sha256Hex, caseID)
	}
	mediaType, err := sniff(data)
	if err != nil {
		// Stored content that a later, stricter check would refuse is
		// still the case's document: hand it over as opaque bytes,
		// which a browser will only download.
		mediaType = "application/octet-stream"
	}
	return data, Document{SHA256: sha256Hex, Size: int64(len(data)), MediaType: mediaType}, nil
}

// blobKey is where a case's document is stored: under the case, so that no
// document is reachable through another case's ID.
func blobKey(caseID, sha256Hex string) string {
	return "cases/" + caseID + "/" + sha256Hex
}

// checkCaseID accepts the case IDs that are safe as one segment of a
// storage key and a file name: 1-100 letters, digits, '_', '.', ':' or '-',
// starting with a letter or digit (so never "." or a hidden file), with no
// "..".
func checkCaseID(caseID string) error {
	ok := len(caseID) >= 1 && len(caseID) <= 100 && isAlnum(caseID[0]) && !strings.Contains(caseID, "..")
	for i := 0; ok && i < len(caseID); i++ {
		ok = isAlnum(caseID[i]) || strings.IndexByte("_.:-", caseID[i]) >= 0
	}
	if !ok {
		return fmt.Errorf("%w: the case ID %q must be 1 to 100 letters, digits, '_', '.', ':' or '-', start with a letter or digit and not contain \"..\"", ErrInvalidID, caseID)
	}
	return nil
}

// checkHash accepts a document ID: 64 lowercase hexadecimal digits.
func checkHash(h string) error {
	ok := len(h) == 64
	for i := 0; ok && i < len(h); i++ {
		ok = '0' <= h[i] && h[i] <= '9' || 'a' <= h[i] && h[i] <= 'f'
	}
	if !ok {
		return fmt.Errorf("%w: the document ID %q must be 64 lowercase hexadecimal digits", ErrInvalidID, h)
	}
	return nil
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// sizeInWords writes a size limit as people read it: "20 MiB", "512 KiB",
// "1000 bytes".
func sizeInWords(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n == 1:
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}
