// Package safecsv writes CSV that a spreadsheet opens as text, never as a
// formula: every CSV the project writes goes through it.
package safecsv

import (
	"encoding/csv"
	"io"
)

// Writer is a csv.Writer that neutralises cells a spreadsheet would run.
type Writer struct {
	w *csv.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// Write writes one record, each cell made safe by Cell.
func (s *Writer) Write(record []string) error {
	safe := make([]string, len(record))
	for i, c := range record {
		safe[i] = Cell(c)
	}
	return s.w.Write(safe)
}

// Flush writes any buffered data.
func (s *Writer) Flush() { s.w.Flush() }

// Error reports an error of an earlier Write or Flush.
func (s *Writer) Error() error { return s.w.Error() }

// Cell neutralises a cell that starts with a character a spreadsheet reads
// as the start of a formula (=, +, -, @, a tab or a carriage return), by
// putting a single quote before it, as OWASP's guidance on CSV injection
// says; other cells are left as they are.
func Cell(c string) string {
	if c == "" {
		return c
	}
	switch c[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + c
	}
	return c
}
