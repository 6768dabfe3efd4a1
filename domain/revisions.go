package domain

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Revision is one version of a rulebook: when it was made and what it
// corrected. A correction of a rulebook is not a change in the law: the law
// was always as the corrected rules say, and the ledger can show what the
// correction did to each LA's figures.
type Revision struct {
	Version int  `json:"version"`
	Date    Date `json:"date"`
	// Corrects lists what the version corrected in the previous one; the
	// first version corrects nothing.
	Corrects []Correction `json:"corrects"`
}

// Correction is one thing a revision put right, with the provisions it
// follows.
type Correction struct {
	What       string `json:"what"`
	Provisions string `json:"provisions"`
}

// checkRevisions reports revisions the ledger could not rely on: none, out
// of order, undated, a later version correcting nothing, a correction
// without its provisions, or a last revision that is not this version.
func (rb *Rulebook) checkRevisions() error {
	if len(rb.Revisions) == 0 {
		return fmt.Errorf("no revisions: list each version with its date and what it corrects")
	}
	for i, r := range rb.Revisions {
		if r.Date.IsZero() {
			return fmt.Errorf("revision %d has no date", r.Version)
		}
		if i > 0 {
			prev := rb.Revisions[i-1]
			if r.Version <= prev.Version || r.Date < prev.Date {
				return fmt.Errorf("revision %d is not after revision %d", r.Version, prev.Version)
			}
			if len(r.Corrects) == 0 {
				return fmt.Errorf("revision %d says nothing of what it corrects", r.Version)
			}
		} else if r.Version < 1 {
			return fmt.Errorf("revision %d: versions count from 1", r.Version)
		}
		for _, c := range r.Corrects {
			if strings.TrimSpace(c.What) == "" || strings.TrimSpace(c.Provisions) == "" {
				return fmt.Errorf("revision %d: each correction says what it corrects and under which provisions", r.Version)
			}
		}
	}
	if last := rb.Revisions[len(rb.Revisions)-1]; last.Version != rb.Version {
		return fmt.Errorf("the latest revision is version %d, but the rulebook is version %d: add its revision", last.Version, rb.Version)
	}
	return nil
}

// TypeRulebookRevised is the stored name of a recorded rulebook revision.
const TypeRulebookRevised = "rulebook_revised"

// RulebookRevised records that the ledger counts under a new revision of a
// rulebook from now on: its id and version, the version and hash recorded
// before it (none for the first record), what the versions since then
// corrected, and the rulebook itself as written in canonical JSON, so that
// any later build can count an LA's clocks again under these rules or the
// ones before and show what the correction changed. It is kept in the
// rulebooks stream (RulebooksStream), one event per revision.
type RulebookRevised struct {
	Rulebook string `json:"rulebook"`
	Version  int    `json:"version"`
	// PreviousVersion and PreviousHash are those of the revision recorded
	// before this one; zero and empty when there was none.
	PreviousVersion int    `json:"previous_version,omitempty"`
	PreviousHash    string `json:"previous_hash,omitempty"`
	// ContentHash is the SHA-256 of Content (Rulebook.ContentHash).
	ContentHash string `json:"content_hash"`
	// Revisions are the rulebook's revisions since the previous record, each
	// with what it corrects: all of them since PreviousVersion, or the
	// current one when the previous record is of the same version or there
	// is none.
	Revisions []Revision `json:"revisions"`
	// Content is the rulebook as written, in canonical JSON
	// (Rulebook.Canonical).
	Content json.RawMessage `json:"content"`
}

// EventType implements Event.
func (RulebookRevised) EventType() string { return TypeRulebookRevised }

// SchemaVersion implements Event.
func (RulebookRevised) SchemaVersion() int { return 1 }

// Attr implements Event.
func (e RulebookRevised) Attr(n string) string {
	switch n {
	case "rulebook":
		return e.Rulebook
	case "version":
		return strconv.Itoa(e.Version)
	}
	return ""
}

// ReviseRulebook returns the revision to record when rb is not what was
// recorded last for its id (latest, nil when nothing was): another version,
// or the same version with other content. It returns nil when rb is what
// was recorded.
func ReviseRulebook(rb *Rulebook, latest *RulebookRevised) *RulebookRevised {
	e := &RulebookRevised{Rulebook: rb.ID, Version: rb.Version, ContentHash: rb.ContentHash(), Content: rb.Canonical()}
	since := rb.Version - 1
	if latest != nil {
		if latest.Version == rb.Version && latest.ContentHash == rb.ContentHash() {
			return nil
		}
		e.PreviousVersion, e.PreviousHash = latest.Version, latest.ContentHash
		since = min(latest.Version, rb.Version-1)
	}
	for _, r := range rb.Revisions {
		if r.Version > since {
			e.Revisions = append(e.Revisions, r)
		}
	}
	return e
}

// Parse reads the rulebook the revision recorded, with the checks every
// rulebook passes (ParseRulebook), its base taken from bases; it fails when
// the content is not the rulebook, version and hash the event names, as a
// record altered or written by other means would be.
func (e *RulebookRevised) Parse(bases func(id string) (*Rulebook, bool)) (*Rulebook, error) {
	rb, err := ParseRulebook(e.Content, bases)
	if err != nil {
		return nil, err
	}
	if rb.ID != e.Rulebook || rb.Version != e.Version || rb.ContentHash() != e.ContentHash {
		return nil, Errorf(Invalid, "the recorded revision of %s version %d holds %s version %d with another content hash", e.Rulebook, e.Version, rb.ID, rb.Version)
	}
	return rb, nil
}
