// Package sen2 is the SEN2 person-level return that every LA in England
// sends the Department for Education each January: each collection year's
// items and code lists as data (collections/YEAR.json, like the
// rulebooks), the XML message, its validation, and reading one back. It
// knows nothing of the ledger: app builds a return from cases, and turns a
// return into cases.
package sen2

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/ehcledger/ehcledger/domain"
)

//go:embed collections/*.json
var collectionFiles embed.FS

// Collection is one year's return as data: its census (reference) date,
// where its rules come from, which items are compulsory, and each coded
// item's list, from this system's values to DfE's codes.
type Collection struct {
	Year          int         `json:"year"`
	ReferenceDate domain.Date `json:"reference_date"`
	// Guide names the DfE documents the year follows.
	Guide string `json:"guide"`
	// Compulsory lists items the year requires that earlier years did not.
	Compulsory []string `json:"compulsory"`
	// Codes are the coded items' lists, by item name.
	Codes map[string]CodeList `json:"codes"`
}

// CodeList maps this system's values of an item to DfE's codes. A list not
// confirmed against DfE's specification (or a value whose code is "") is
// written as this system's value, and validation reports it: such a return
// is not ready to send.
type CodeList struct {
	Confirmed bool              `json:"confirmed"`
	Source    string            `json:"source"`
	Codes     map[string]string `json:"codes"`
}

// Code returns DfE's code for a value, and whether it is one DfE's
// specification confirms. An unknown value is returned as it is.
func (l CodeList) Code(value string) (string, bool) {
	if c, ok := l.Codes[value]; ok && c != "" {
		return c, l.Confirmed
	}
	return value, false
}

// Value returns this system's value for a code (the first, in sorted
// order, when several values share it), and whether the list knows it.
func (l CodeList) Value(code string) (string, bool) {
	if code == "" {
		return "", false
	}
	var vals []string
	for v, c := range l.Codes {
		if (c != "" && c == code) || (c == "" && v == code) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return code, false
	}
	slices.Sort(vals)
	return vals[0], true
}

// Years lists the collection years this build knows.
func Years() []int {
	names, _ := fs.Glob(collectionFiles, "collections/*.json")
	var out []int
	for _, n := range names {
		if y, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(n, "collections/"), ".json")); err == nil {
			out = append(out, y)
		}
	}
	slices.Sort(out)
	return out
}

// Lookup returns a collection year's return as data.
func Lookup(year int) (*Collection, error) {
	b, err := collectionFiles.ReadFile(fmt.Sprintf("collections/%d.json", year))
	if err != nil {
		return nil, domain.FieldErrorf("year", "this build knows the SEN2 collections of %s, not %d", joinInts(Years()), year)
	}
	var c Collection
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, &domain.Error{Code: domain.Internal, Message: "the SEN2 collection could not be read", Err: err}
	}
	if c.Year != year {
		return nil, &domain.Error{Code: domain.Internal, Message: fmt.Sprintf("collections/%d.json says it is the collection of %d", year, c.Year)}
	}
	return &c, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
