package safecsv_test

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/ehcledger/ehcledger/internal/safecsv"
)

func TestCellsASpreadsheetWouldRunAreNeutralised(t *testing.T) {
	var b bytes.Buffer
	w := safecsv.NewWriter(&b)
	in := []string{"=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "plain", "", "2024-01-01", "a=b"}
	if err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	got, err := csv.NewReader(&b).Read()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tcmd", "'\rcmd", "plain", "", "2024-01-01", "a=b"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cell %d: %q, want %q", i, got[i], want[i])
		}
	}
}
