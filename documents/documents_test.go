package documents_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/ehcledger/ehcledger/documents"
)

// errErased stands for keys.ErrErased: the error a Sealer gives once a
// case's key is destroyed.
var errErased = errors.New("the personal data of this case has been erased")

// sealer seals as keys.Store does, AES-256-GCM with the case ID as
// additional data and a key per case, and can erase a case's key.
type sealer struct {
	mu     sync.Mutex
	keys   map[string]cipher.AEAD
	erased map[string]bool
	seals  int
}

func newSealer() *sealer {
	return &sealer{keys: map[string]cipher.AEAD{}, erased: map[string]bool{}}
}

func (s *sealer) Seal(caseID string, plain []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.erased[caseID] {
		return nil, errErased
	}
	aead := s.keys[caseID]
	if aead == nil {
		key := make([]byte, 32)
		rand.Read(key)
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
		s.keys[caseID] = aead
	}
	s.seals++
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, []byte(caseID)), nil
}

func (s *sealer) Open(caseID string, sealed []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.erased[caseID] {
		return nil, errErased
	}
	aead := s.keys[caseID]
	if aead == nil || len(sealed) < aead.NonceSize() {
		return nil, fmt.Errorf("sealed data of case %s does not open with its key", caseID)
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(caseID))
	if err != nil {
		return nil, fmt.Errorf("sealed data of case %s does not open with its key", caseID)
	}
	return plain, nil
}

func (s *sealer) erase(caseID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, caseID)
	s.erased[caseID] = true
}

func (s *sealer) sealCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seals
}

// scanner answers err for every file and remembers what it was shown.
type scanner struct {
	mu    sync.Mutex
	err   error
	shown [][]byte
}

func (s *scanner) Scan(_ context.Context, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shown = append(s.shown, bytes.Clone(data))
	return s.err
}

func (s *scanner) scans() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.shown)
}

// fixture is a Store on a fresh directory, with its parts at hand.
type fixture struct {
	store   *documents.Store
	root    string
	blobs   *documents.Dir
	sealer  *sealer
	scanner *scanner
}

// newFixture makes a Store of maxSize (0: the default) on a fresh directory.
func newFixture(t *testing.T, maxSize int64) *fixture {
	t.Helper()
	f := &fixture{root: t.TempDir(), sealer: newSealer(), scanner: &scanner{}}
	f.blobs = newDir(t, f.root)
	var err error
	f.store, err = documents.New(documents.Config{Blobs: f.blobs, Sealer: f.sealer, Scanner: f.scanner, MaxSize: maxSize})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// put stores data for the case or fails the test.
func (f *fixture) put(t *testing.T, caseID string, data []byte, name string) documents.Document {
	t.Helper()
	doc, err := f.store.Put(context.Background(), caseID, bytes.NewReader(data), name)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	return doc
}

// files lists the files stored, relative to the root.
func (f *fixture) files(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(f.root, func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(f.root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// wantNothingStored checks that a refused upload left no trace: no file,
// nothing sealed.
func (f *fixture) wantNothingStored(t *testing.T) {
	t.Helper()
	if files := f.files(t); len(files) != 0 {
		t.Errorf("files stored: %v", files)
	}
	if n := f.sealer.sealCount(); n != 0 {
		t.Errorf("%d documents sealed", n)
	}
}

func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// The test documents. Each is a real file of its type, however small.

func pdfFile() []byte {
	return []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
		"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

func pngFile(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, square()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegFile(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, square(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func square() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	return img
}

// zipFile makes a ZIP archive of the named parts, each with a little XML.
func zipFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, name := range parts {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><part name=%q/>`, name)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// docxFile is a minimal Word document: the parts Word needs to open one.
func docxFile(t *testing.T) []byte {
	t.Helper()
	return zipFile(t, "[Content_Types].xml", "_rels/.rels", "word/document.xml")
}

func TestPutAndGet(t *testing.T) {
	ctx := context.Background()
	types := []struct {
		kind, name, mediaType string
		data                  []byte
	}{
		{"a PDF", "report.pdf", documents.MediaPDF, pdfFile()},
		{"a Word document", "plan.docx", documents.MediaDOCX, docxFile(t)},
		{"a PNG image", "drawing.png", documents.MediaPNG, pngFile(t)},
		{"a JPEG image", "photo.jpg", documents.MediaJPEG, jpegFile(t)},
	}
	for _, tc := range types {
		t.Run(tc.kind+" is stored and got back as it was, with its type", func(t *testing.T) {
			f := newFixture(t, 0)
			doc := f.put(t, "case-1", tc.data, tc.name)
			want := documents.Document{SHA256: hashOf(tc.data), Size: int64(len(tc.data)), MediaType: tc.mediaType, Name: tc.name}
			if doc != want {
				t.Fatalf("put gave %+v, want %+v", doc, want)
			}
			got, gotDoc, err := f.store.Get(ctx, "case-1", doc.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Fatal("the document got back differs from the one put")
			}
			want.Name = ""
			if gotDoc != want {
				t.Fatalf("get gave %+v, want %+v", gotDoc, want)
			}
		})
	}

	t.Run("the type is found from the content whatever the name says", func(t *testing.T) {
		f := newFixture(t, 0)
		if doc := f.put(t, "case-1", pngFile(t), "scan.pdf"); doc.MediaType != documents.MediaPNG {
			t.Fatalf("a PNG named scan.pdf was taken for %s", doc.MediaType)
		}
	})

	t.Run("the stored blob is sealed, not the plain document, under the case and hash", func(t *testing.T) {
		f := newFixture(t, 0)
		data := pdfFile()
		doc := f.put(t, "case-1", data, "report.pdf")
		files := f.files(t)
		if want := "cases/case-1/" + doc.SHA256; len(files) != 1 || files[0] != want {
			t.Fatalf("files stored: %v, want [%s]", files, want)
		}
		stored, err := os.ReadFile(filepath.Join(f.root, files[0]))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored, []byte("%PDF")) || bytes.Contains(stored, []byte("Catalog")) {
			t.Fatal("the stored blob holds the document in the clear")
		}
	})

	t.Run("storing a document twice for a case stores it once", func(t *testing.T) {
		f := newFixture(t, 0)
		first := f.put(t, "case-1", pdfFile(), "report.pdf")
		second := f.put(t, "case-1", pdfFile(), "report (1).pdf")
		if first.SHA256 != second.SHA256 {
			t.Fatalf("the same document has two IDs: %s and %s", first.SHA256, second.SHA256)
		}
		if files := f.files(t); len(files) != 1 {
			t.Fatalf("files stored: %v, want one", files)
		}
		if got, _, err := f.store.Get(ctx, "case-1", first.SHA256); err != nil || !bytes.Equal(got, pdfFile()) {
			t.Fatalf("got %d bytes, %v", len(got), err)
		}
	})

	t.Run("the scanner is shown the whole upload", func(t *testing.T) {
		f := newFixture(t, 0)
		data := docxFile(t)
		f.put(t, "case-1", data, "plan.docx")
		if len(f.scanner.shown) != 1 || !bytes.Equal(f.scanner.shown[0], data) {
			t.Fatalf("the scanner was shown %d files, not the upload", len(f.scanner.shown))
		}
	})

	t.Run("a document the case does not have is not found", func(t *testing.T) {
		f := newFixture(t, 0)
		_, _, err := f.store.Get(ctx, "case-1", hashOf([]byte("never uploaded")))
		if !errors.Is(err, documents.ErrNotFound) {
			t.Fatalf("got %v, want documents.ErrNotFound", err)
		}
	})

	t.Run("a document up to the limit is stored", func(t *testing.T) {
		f := newFixture(t, 1000)
		data := append(pdfFile(), bytes.Repeat([]byte(" "), 1000-len(pdfFile()))...)
		if doc := f.put(t, "case-1", data, "big.pdf"); doc.Size != 1000 {
			t.Fatalf("stored %d bytes, want 1000", doc.Size)
		}
	})
}

func TestPutRefuses(t *testing.T) {
	ctx := context.Background()

	wrongTypes := []struct {
		outcome string
		data    []byte
	}{
		{"a text file named .pdf is refused", []byte("Dear Sir or Madam, ...")},
		{"an empty file is refused", nil},
		{"an old Word .doc file is refused", append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), make([]byte, 512)...)},
		{"a GIF image is refused", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")},
		{"a spreadsheet (a ZIP without word/document.xml) is refused", zipFile(t, "[Content_Types].xml", "xl/workbook.xml")},
		{"a Word document with macros is refused", zipFile(t, "[Content_Types].xml", "word/document.xml", "word/vbaProject.bin")},
		{"a broken ZIP is refused", []byte("PK\x03\x04 not really a zip")},
		{"a PDF marker later in the file is not enough", []byte("<html>%PDF-1.4</html>")},
	}
	for _, tc := range wrongTypes {
		t.Run(tc.outcome+", naming the types accepted, and nothing is stored", func(t *testing.T) {
			f := newFixture(t, 0)
			_, err := f.store.Put(ctx, "case-1", bytes.NewReader(tc.data), "upload.pdf")
			if !errors.Is(err, documents.ErrType) {
				t.Fatalf("got %v, want documents.ErrType", err)
			}
			for _, name := range []string{"PDF", "Word (.docx)", "PNG", "JPEG"} {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("the error %q does not name %s", err, name)
				}
			}
			if f.scanner.scans() != 0 {
				t.Error("a file of the wrong type was sent to the scanner")
			}
			f.wantNothingStored(t)
		})
	}

	t.Run("a file over the limit is refused, saying the limit, and nothing is stored", func(t *testing.T) {
		f := newFixture(t, 1000)
		data := append(pdfFile(), bytes.Repeat([]byte(" "), 1001-len(pdfFile()))...)
		_, err := f.store.Put(ctx, "case-1", bytes.NewReader(data), "big.pdf")
		if !errors.Is(err, documents.ErrTooLarge) {
			t.Fatalf("got %v, want documents.ErrTooLarge", err)
		}
		if !strings.Contains(err.Error(), "1000 bytes") {
			t.Errorf("the error %q does not say the limit", err)
		}
		f.wantNothingStored(t)
	})

	t.Run("the default limit is 20 MiB", func(t *testing.T) {
		f := newFixture(t, 0)
		data := io.MultiReader(bytes.NewReader(pdfFile()), &endless{})
		_, err := f.store.Put(ctx, "case-1", data, "big.pdf")
		if !errors.Is(err, documents.ErrTooLarge) || !strings.Contains(err.Error(), "20 MiB") {
			t.Fatalf("got %v, want documents.ErrTooLarge saying 20 MiB", err)
		}
	})

	t.Run("an endless upload is read only to just past the limit", func(t *testing.T) {
		f := newFixture(t, 1<<20)
		r := &endless{}
		_, err := f.store.Put(ctx, "case-1", r, "endless.pdf")
		if !errors.Is(err, documents.ErrTooLarge) {
			t.Fatalf("got %v, want documents.ErrTooLarge", err)
		}
		if r.read > 1<<20+1 {
			t.Fatalf("read %d bytes of an upload limited to %d", r.read, 1<<20)
		}
	})

	t.Run("an upload that cannot be read is refused and nothing is stored", func(t *testing.T) {
		f := newFixture(t, 0)
		broken := io.MultiReader(bytes.NewReader(pdfFile()), iotestErrReader{})
		if _, err := f.store.Put(ctx, "case-1", broken, "report.pdf"); err == nil {
			t.Fatal("a broken upload was stored")
		}
		f.wantNothingStored(t)
	})

	t.Run("an infected file is refused as infected and nothing is stored", func(t *testing.T) {
		f := newFixture(t, 0)
		f.scanner.err = fmt.Errorf("%w (the scanner reported: stdin: Eicar-Test-Signature FOUND)", documents.ErrInfected)
		_, err := f.store.Put(ctx, "case-1", bytes.NewReader(pdfFile()), "report.pdf")
		if !errors.Is(err, documents.ErrInfected) {
			t.Fatalf("got %v, want documents.ErrInfected", err)
		}
		if !strings.Contains(err.Error(), "virus") {
			t.Errorf("the error %q does not say a virus was found", err)
		}
		f.wantNothingStored(t)
	})

	t.Run("a scanner that gives no answer fails closed and nothing is stored", func(t *testing.T) {
		f := newFixture(t, 0)
		f.scanner.err = errors.New("clamd is not running")
		_, err := f.store.Put(ctx, "case-1", bytes.NewReader(pdfFile()), "report.pdf")
		if !errors.Is(err, documents.ErrScanFailed) || errors.Is(err, documents.ErrInfected) {
			t.Fatalf("got %v, want documents.ErrScanFailed", err)
		}
		if !strings.Contains(err.Error(), "clamd is not running") {
			t.Errorf("the error %q hides the scanner's", err)
		}
		f.wantNothingStored(t)
	})
}

// endless is a reader of spaces that never ends, counting what was read.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.read += len(p)
	return len(p), nil
}

// iotestErrReader fails every read, as a dropped connection does.
type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestErasure(t *testing.T) {
	ctx := context.Background()

	t.Run("a document of an erased case answers the sealer's error", func(t *testing.T) {
		f := newFixture(t, 0)
		doc := f.put(t, "case-1", pdfFile(), "report.pdf")
		f.sealer.erase("case-1")
		got, _, err := f.store.Get(ctx, "case-1", doc.SHA256)
		if !errors.Is(err, errErased) {
			t.Fatalf("got %v, want the sealer's errErased", err)
		}
		if got != nil {
			t.Fatal("content was returned for an erased case")
		}
	})

	t.Run("an erased case takes no new document", func(t *testing.T) {
		f := newFixture(t, 0)
		f.sealer.erase("case-1")
		_, err := f.store.Put(ctx, "case-1", bytes.NewReader(pdfFile()), "report.pdf")
		if !errors.Is(err, errErased) {
			t.Fatalf("got %v, want the sealer's errErased", err)
		}
		if files := f.files(t); len(files) != 0 {
			t.Fatalf("files stored: %v", files)
		}
	})

	t.Run("erasing one case leaves another's documents readable", func(t *testing.T) {
		f := newFixture(t, 0)
		doc := f.put(t, "case-1", pdfFile(), "report.pdf")
		f.put(t, "case-2", pdfFile(), "report.pdf")
		f.sealer.erase("case-2")
		if _, _, err := f.store.Get(ctx, "case-1", doc.SHA256); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCaseIsolation(t *testing.T) {
	ctx := context.Background()

	t.Run("another case's ID does not find the document", func(t *testing.T) {
		f := newFixture(t, 0)
		doc := f.put(t, "case-1", pdfFile(), "report.pdf")
		f.put(t, "case-2", pngFile(t), "drawing.png") // case-2 has a key and documents of its own
		_, _, err := f.store.Get(ctx, "case-2", doc.SHA256)
		if !errors.Is(err, documents.ErrNotFound) {
			t.Fatalf("got %v, want documents.ErrNotFound", err)
		}
	})

	t.Run("a blob copied into another case's place does not open there", func(t *testing.T) {
		f := newFixture(t, 0)
		doc := f.put(t, "case-1", pdfFile(), "report.pdf")
		f.put(t, "case-2", pngFile(t), "drawing.png")
		copyBlob(t, f, "cases/case-1/"+doc.SHA256, "cases/case-2/"+doc.SHA256)
		got, _, err := f.store.Get(ctx, "case-2", doc.SHA256)
		if err == nil || got != nil {
			t.Fatalf("case-2 read case-1's document (%d bytes, %v)", len(got), err)
		}
	})
}

// copyBlob copies the stored blob at key from to key to, as someone with
// access to the storage but not the keys could.
func copyBlob(t *testing.T, f *fixture, from, to string) {
	t.Helper()
	data, err := f.blobs.Get(context.Background(), from)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.blobs.Put(context.Background(), to, data); err != nil {
		t.Fatal(err)
	}
}

func TestTampering(t *testing.T) {
	ctx := context.Background()

	t.Run("a stored blob with a byte changed does not open", func(t *testing.T) {
		f := newFixture(t, 0)
		doc := f.put(t, "case-1", pdfFile(), "report.pdf")
		path := filepath.Join(f.root, "cases", "case-1", doc.SHA256)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 1
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _, err := f.store.Get(ctx, "case-1", doc.SHA256); err == nil || got != nil {
			t.Fatalf("a changed blob was read (%d bytes, %v)", len(got), err)
		}
	})

	t.Run("another document of the case put in a document's place is detected as tampering", func(t *testing.T) {
		f := newFixture(t, 0)
		report := f.put(t, "case-1", pdfFile(), "report.pdf")
		drawing := f.put(t, "case-1", pngFile(t), "drawing.png")
		copyBlob(t, f, "cases/case-1/"+drawing.SHA256, "cases/case-1/"+report.SHA256)
		got, _, err := f.store.Get(ctx, "case-1", report.SHA256)
		if !errors.Is(err, documents.ErrTampered) {
			t.Fatalf("got %v, want documents.ErrTampered", err)
		}
		if got != nil {
			t.Fatal("content was returned for a tampered document")
		}
	})
}

func TestNames(t *testing.T) {
	long := strings.Repeat("é", 150) + ".docx" // 305 bytes
	cases := []struct {
		outcome, declared, want string
	}{
		{"a plain name is kept", "EP advice - March.pdf", "EP advice - March.pdf"},
		{"a Windows path is cut to its base name", `C:\fakepath\advice.pdf`, "advice.pdf"},
		{"a Unix path is cut to its base name", "../../etc/advice.pdf", "advice.pdf"},
		{"control characters are dropped", "ad\x00vi\nce\x7f\u0085.pdf", "advice.pdf"},
		{"text-direction characters are dropped", "advice\u202efdp.exe", "advicefdp.exe"},
		{"invalid UTF-8 is dropped", "adv\xffice.pdf", "advice.pdf"},
		{"surrounding spaces are trimmed", "  advice.pdf \t", "advice.pdf"},
		{"an empty name becomes document with the type's extension", "", "document.docx"},
		{"a name of dots becomes document with the type's extension", "..", "document.docx"},
		{"a path ending in a slash becomes document with the type's extension", "folder/", "document.docx"},
		{"a long name is cut to 200 bytes keeping its extension", long, strings.Repeat("é", 97) + ".docx"},
		{"a long name without an extension is cut to 200 bytes", strings.Repeat("a", 300), strings.Repeat("a", 200)},
	}
	f := newFixture(t, 0)
	data := docxFile(t)
	for _, tc := range cases {
		t.Run(tc.outcome, func(t *testing.T) {
			got := f.put(t, "case-1", data, tc.declared).Name
			if got != tc.want {
				t.Fatalf("%q was kept as %q, want %q", tc.declared, got, tc.want)
			}
			if len(got) > 200 || !utf8.ValidString(got) {
				t.Fatalf("%q is %d bytes or not UTF-8", got, len(got))
			}
		})
	}
}

func TestIDs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	doc := f.put(t, "LA-1:case_2.b-3", pdfFile(), "report.pdf")

	t.Run("a case ID of letters, digits and _ . : - holds documents", func(t *testing.T) {
		if _, _, err := f.store.Get(ctx, "LA-1:case_2.b-3", doc.SHA256); err != nil {
			t.Fatal(err)
		}
	})

	badCases := []string{"", ".", "..", "../case-1", "case-1/..", "a..b", "case/1", `case\1`, ".hidden", "-flag", "case 1", "case\x00", "cäse", strings.Repeat("a", 101)}
	for _, id := range badCases {
		t.Run(fmt.Sprintf("the case ID %.20q is refused", id), func(t *testing.T) {
			if _, err := f.store.Put(ctx, id, bytes.NewReader(pdfFile()), "report.pdf"); !errors.Is(err, documents.ErrInvalidID) {
				t.Errorf("put: got %v, want documents.ErrInvalidID", err)
			}
			if _, _, err := f.store.Get(ctx, id, doc.SHA256); !errors.Is(err, documents.ErrInvalidID) {
				t.Errorf("get: got %v, want documents.ErrInvalidID", err)
			}
		})
	}

	t.Run("a case ID of 100 characters is accepted", func(t *testing.T) {
		f.put(t, strings.Repeat("a", 100), pdfFile(), "report.pdf")
	})

	badHashes := []string{"", "abc", strings.ToUpper(doc.SHA256), doc.SHA256 + "0", "../" + doc.SHA256[3:], strings.Repeat("g", 64)}
	for _, h := range badHashes {
		t.Run(fmt.Sprintf("the document ID %.20q is refused", h), func(t *testing.T) {
			if _, _, err := f.store.Get(ctx, "LA-1:case_2.b-3", h); !errors.Is(err, documents.ErrInvalidID) {
				t.Errorf("got %v, want documents.ErrInvalidID", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	d := newDir(t, t.TempDir())
	configs := []struct {
		outcome string
		config  documents.Config
	}{
		{"a store without storage is refused", documents.Config{Sealer: newSealer(), Scanner: documents.NoScan{}}},
		{"a store without a sealer is refused", documents.Config{Blobs: d, Scanner: documents.NoScan{}}},
		{"a store without a scanner is refused", documents.Config{Blobs: d, Sealer: newSealer()}},
		{"a negative size limit is refused", documents.Config{Blobs: d, Sealer: newSealer(), Scanner: documents.NoScan{}, MaxSize: -1}},
	}
	for _, tc := range configs {
		t.Run(tc.outcome, func(t *testing.T) {
			if s, err := documents.New(tc.config); err == nil {
				t.Fatalf("got a store %v", s)
			}
		})
	}

	t.Run("NoScan accepts a file", func(t *testing.T) {
		s, err := documents.New(documents.Config{Blobs: d, Sealer: newSealer(), Scanner: documents.NoScan{}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(context.Background(), "case-1", bytes.NewReader(pdfFile()), "report.pdf"); err != nil {
			t.Fatal(err)
		}
	})
}
