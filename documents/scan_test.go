package documents_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/documents"
)

// script is a CommandScanner running a shell script as the scanner.
func script(t *testing.T, body string) documents.CommandScanner {
	t.Helper()
	return documents.CommandScanner{Command: []string{"sh", "-c", body}}
}

func TestCommandScanner(t *testing.T) {
	ctx := context.Background()
	upload := []byte("%PDF-1.4 the upload")

	t.Run("exit 0 is clean", func(t *testing.T) {
		if err := script(t, "cat >/dev/null; exit 0").Scan(ctx, upload); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the scanner reads the upload on its standard input", func(t *testing.T) {
		s := script(t, `test "$(cat)" = '%PDF-1.4 the upload' || exit 2`)
		if err := s.Scan(ctx, upload); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("exit 1 is a virus found, with the scanner's report", func(t *testing.T) {
		err := script(t, "cat >/dev/null; echo 'stdin: Eicar-Test-Signature FOUND'; exit 1").Scan(ctx, upload)
		if !errors.Is(err, documents.ErrInfected) {
			t.Fatalf("got %v, want documents.ErrInfected", err)
		}
		if !strings.Contains(err.Error(), "a virus was found") || !strings.Contains(err.Error(), "Eicar-Test-Signature") {
			t.Fatalf("the error %q does not say a virus was found and which", err)
		}
	})

	t.Run("a scanner that stops reading early still reports a virus", func(t *testing.T) {
		big := make([]byte, 4<<20) // more than a pipe holds
		if err := script(t, "exit 1").Scan(ctx, big); !errors.Is(err, documents.ErrInfected) {
			t.Fatalf("got %v, want documents.ErrInfected", err)
		}
	})

	failures := []struct {
		outcome string
		scanner documents.CommandScanner
		says    string
	}{
		{"exit 2 is no answer", script(t, "cat >/dev/null; echo 'ERROR: Could not connect to clamd' >&2; exit 2"), "Could not connect to clamd"},
		{"a scanner killed by a signal is no answer", script(t, "kill -9 $$"), "killed"},
		{"a scanner that is not installed is no answer", documents.CommandScanner{Command: []string{"/nonexistent/clamdscan", "-"}}, "/nonexistent/clamdscan"},
		{"no command is no answer", documents.CommandScanner{}, "no scanner command"},
	}
	for _, tc := range failures {
		t.Run(tc.outcome+" and fails closed", func(t *testing.T) {
			err := tc.scanner.Scan(ctx, upload)
			if !errors.Is(err, documents.ErrScanFailed) || errors.Is(err, documents.ErrInfected) {
				t.Fatalf("got %v, want documents.ErrScanFailed", err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("the error %q does not say %q", err, tc.says)
			}
		})
	}

	t.Run("a scanner still running when the context ends is stopped and fails closed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := script(t, "exec sleep 30").Scan(ctx, upload)
		if !errors.Is(err, documents.ErrScanFailed) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want documents.ErrScanFailed and context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("the scan took %v to stop", d)
		}
	})

	t.Run("a file refused by the scanner command is not stored", func(t *testing.T) {
		f := newFixture(t, 0)
		s, err := documents.New(documents.Config{Blobs: f.blobs, Sealer: f.sealer, Scanner: script(t, "cat >/dev/null; exit 1")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, "case-1", strings.NewReader(string(pdfFile())), "report.pdf"); !errors.Is(err, documents.ErrInfected) {
			t.Fatalf("got %v, want documents.ErrInfected", err)
		}
		f.wantNothingStored(t)
	})
}
