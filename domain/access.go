package domain

// TypeCaseAccessed is the stored name of a read of a case.
const TypeCaseAccessed = "case_accessed"

// CaseAccessed records that someone read a case's data: which case, through
// which route, in which role. The envelope says who (actor), for which LA
// and when (recorded at). Reads are facts auditors must be able to prove, so
// they are events like any other, kept in the LA's access stream.
type CaseAccessed struct {
	Case  string `json:"case"`
	Route string `json:"route"`
	Role  string `json:"role"`
}

// EventType implements Event.
func (CaseAccessed) EventType() string { return TypeCaseAccessed }

// SchemaVersion implements Event.
func (CaseAccessed) SchemaVersion() int { return 1 }

// Attr implements Event.
func (e CaseAccessed) Attr(n string) string {
	switch n {
	case "case":
		return e.Case
	case "route":
		return e.Route
	case "role":
		return e.Role
	}
	return ""
}
