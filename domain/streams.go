package domain

import (
	"regexp"
	"strings"
)

// Streams group events: one stream per case, per LA (its rulebook adoptions)
// and per school (its closures), and one for the ledger itself (the
// rulebook revisions it has counted under). The names are part of the
// stored format.
const (
	caseStreamPrefix   = "case-"
	laStreamPrefix     = "la-"
	schoolStreamPrefix = "school-"
	accessStreamPrefix = "access-"
	rulebooksStream    = "rulebooks"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$`)

// ValidateID checks an identifier of a case, LA or school.
func ValidateID(field, id string) error {
	if !idPattern.MatchString(id) {
		return FieldErrorf(field, "%q is not a valid identifier (1-100 letters, digits, '_', '.', ':' or '-')", id)
	}
	return nil
}

// CaseStream is the stream of a case.
func CaseStream(caseID string) string { return caseStreamPrefix + caseID }

// LAStream is the stream of an LA.
func LAStream(la string) string { return laStreamPrefix + la }

// SchoolStream is the stream of a school of an LA.
func SchoolStream(la, school string) string { return schoolStreamPrefix + la + "/" + school }

// AccessStream is the stream of the reads of one case of an LA. Each case
// has its own, so that reads of different cases never contend for one
// stream: on KurrentDB every append to a stream races the others. (Stores
// written before stop 27 hold the reads of an LA in one stream, "access-"
// and the LA, which projections read as before: they read the global log,
// not these streams.) A "/" cannot occur in an identifier, so the name is
// unambiguous.
func AccessStream(la, caseID string) string { return accessStreamPrefix + la + "/case/" + caseID }

// ExportAccessStream is the stream of the reads one export made of many of
// an LA's cases at once, named by the export's correlation ID: one stream
// per export, so that an export contends with nothing.
func ExportAccessStream(la, export string) string {
	return accessStreamPrefix + la + "/export/" + export
}

// RulebooksStream is the ledger's own stream of rulebook revisions
// (RulebookRevised), about no LA.
func RulebooksStream() string { return rulebooksStream }

// CaseIDOf returns the case ID of a case stream.
func CaseIDOf(stream string) (string, bool) {
	if strings.HasPrefix(stream, caseStreamPrefix) {
		return stream[len(caseStreamPrefix):], true
	}
	return "", false
}

// StreamPrefixes are the prefixes of every stream EHC Ledger writes, so that
// a shared store's global log can be filtered to them.
func StreamPrefixes() []string {
	return []string{caseStreamPrefix, laStreamPrefix, schoolStreamPrefix, accessStreamPrefix, rulebooksStream}
}

// StandsAlone reports whether a stream's events depend on no other stream
// of its kind: a case's events are decided from the case's own stream and
// its LA's rulebooks and school closures, never from another case's, and a
// read recorded in an access stream depends on nothing. A copy of the store
// may write such streams side by side; the others (an LA's adoptions, a
// school's closures, the rulebook revisions) keep their place in the
// global order.
func StandsAlone(stream string) bool {
	return strings.HasPrefix(stream, caseStreamPrefix) || strings.HasPrefix(stream, accessStreamPrefix)
}
