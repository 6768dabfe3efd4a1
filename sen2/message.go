package sen2

import (
	"encoding/xml"
	"io"
	"strings"

	"github.com/ehcledger/ehcledger/domain"
)

// Message is a return as DfE COLLECT takes it: a header, then one Person
// per child or young person with every request of theirs beneath. Element
// names follow the 2025 and 2026 specification as far as public sources
// give them (docs/sen2.md lists the sources and what is unconfirmed);
// values are strings, dates YYYY-MM-DD, flags 1 or 0, and an item with no
// value is left out.
type Message struct {
	XMLName xml.Name `xml:"Message"`
	Header  Header   `xml:"Header"`
	Persons []Person `xml:"Persons>Person"`
}

// Header says which collection, year and LA the return is.
type Header struct {
	Collection    string `xml:"CollectionDetails>Collection"`
	Year          string `xml:"CollectionDetails>Year"`
	ReferenceDate string `xml:"CollectionDetails>ReferenceDate"`
	SourceLevel   string `xml:"Source>SourceLevel"`
	// LEA is the LA's three-digit DfE number.
	LEA          string `xml:"Source>LEA"`
	SoftwareCode string `xml:"Source>SoftwareCode"`
	Release      string `xml:"Source>Release"`
	SerialNo     string `xml:"Source>SerialNo"`
	DateTime     string `xml:"Source>DateTime"`
}

// Person is module 1: the child or young person.
type Person struct {
	Surname             string    `xml:"Surname,omitempty"`
	Forename            string    `xml:"Forename,omitempty"`
	PersonBirthDate     string    `xml:"PersonBirthDate,omitempty"`
	Sex                 string    `xml:"Sex,omitempty"`
	Ethnicity           string    `xml:"Ethnicity,omitempty"`
	PostCode            string    `xml:"PostCode,omitempty"`
	UPN                 string    `xml:"UPN,omitempty"`
	UniqueLearnerNumber string    `xml:"UniqueLearnerNumber,omitempty"`
	UPNunknown          string    `xml:"UPNunknown,omitempty"`
	Requests            []Request `xml:"Requests"`
}

// Request is module 2: a request for an EHC needs assessment (or the LA
// becoming responsible), with its assessment and the plan in force.
type Request struct {
	ReceivedDate       string       `xml:"ReceivedDate,omitempty"`
	RequestSource      string       `xml:"RequestSource,omitempty"`
	RYA                string       `xml:"RYA,omitempty"`
	RequestOutcomeDate string       `xml:"RequestOutcomeDate,omitempty"`
	RequestOutcome     string       `xml:"RequestOutcome,omitempty"`
	RequestMediation   string       `xml:"RequestMediation,omitempty"`
	RequestTribunal    string       `xml:"RequestTribunal,omitempty"`
	Exported           string       `xml:"Exported,omitempty"`
	Assessment         *Assessment  `xml:"Assessment,omitempty"`
	ActivePlans        *ActivePlans `xml:"ActivePlans,omitempty"`
}

// Assessment is module 3: the outcome of the assessment.
type Assessment struct {
	AssessmentOutcome     string     `xml:"AssessmentOutcome,omitempty"`
	AssessmentOutcomeDate string     `xml:"AssessmentOutcomeDate,omitempty"`
	AssessmentMediation   string     `xml:"AssessmentMediation,omitempty"`
	AssessmentTribunal    string     `xml:"AssessmentTribunal,omitempty"`
	OtherMediation        string     `xml:"OtherMediation,omitempty"`
	OtherTribunal         string     `xml:"OtherTribunal,omitempty"`
	Week20                string     `xml:"Week20,omitempty"`
	NamedPlan             *NamedPlan `xml:"NamedPlan,omitempty"`
}

// NamedPlan is module 4: the plan, and the settings it names.
type NamedPlan struct {
	StartDate   string       `xml:"StartDate,omitempty"`
	PlanRes     string       `xml:"PlanRes,omitempty"`
	PlanWBP     string       `xml:"PlanWBP,omitempty"`
	PB          string       `xml:"PB,omitempty"`
	OA          string       `xml:"OA,omitempty"`
	DP          string       `xml:"DP,omitempty"`
	CeaseDate   string       `xml:"CeaseDate,omitempty"`
	CeaseReason string       `xml:"CeaseReason,omitempty"`
	PlanDetail  []PlanDetail `xml:"PlanDetail"`
}

// Setting is a setting's identity and kind, as plan and placement detail
// both give it.
type Setting struct {
	URN                         string `xml:"URN,omitempty"`
	UKPRN                       string `xml:"UKPRN,omitempty"`
	SENsetting                  string `xml:"SENsetting,omitempty"`
	SENSettingOther             string `xml:"SENSettingOther,omitempty"`
	PlacementRank               string `xml:"PlacementRank,omitempty"`
	SENunitIndicator            string `xml:"SENunitIndicator,omitempty"`
	ResourcedProvisionIndicator string `xml:"ResourcedProvisionIndicator,omitempty"`
}

// PlanDetail is a setting named in the plan.
type PlanDetail struct {
	Setting
}

// ActivePlans is module 5: a plan in force on the census date, its
// reviews, placements and needs.
type ActivePlans struct {
	TransferLA             string            `xml:"TransferLA,omitempty"`
	ReviewMeeting          string            `xml:"ReviewMeeting,omitempty"`
	ReviewOutcome          string            `xml:"ReviewOutcome,omitempty"`
	ReviewDraft            string            `xml:"ReviewDraft,omitempty"`
	PhaseTransferDueDate   string            `xml:"PhaseTransferDueDate,omitempty"`
	PhaseTransferFinalDate string            `xml:"PhaseTransferFinalDate,omitempty"`
	LastReview             string            `xml:"LastReview,omitempty"`
	PlacementDetail        []PlacementDetail `xml:"PlacementDetail"`
	SENneed                []SENneed         `xml:"SENneed"`
}

// PlacementDetail is a setting attended in the year.
type PlacementDetail struct {
	Setting
	EntryDate   string `xml:"EntryDate,omitempty"`
	LeavingDate string `xml:"LeavingDate,omitempty"`
	Res         string `xml:"Res,omitempty"`
	WBP         string `xml:"WBP,omitempty"`
}

// SENneed is a type of need and its rank.
type SENneed struct {
	SENtype     string `xml:"SENtype,omitempty"`
	SENtypeRank string `xml:"SENtypeRank,omitempty"`
}

// Write writes the message as an XML document, indented.
func (m *Message) Write(w io.Writer) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(m); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// maxMessage bounds a return read: the largest LA's return (some 20,000
// children) is about 30 MiB, and what is read is held decoded.
const maxMessage = 64 << 20

// Read reads a return. It takes no DTD and no entities beyond XML's own,
// so a hostile file cannot make it fetch or expand anything, and it stops
// at maxMessage bytes.
func Read(r io.Reader) (*Message, error) {
	lr := &io.LimitedReader{R: r, N: maxMessage + 1}
	dec := xml.NewDecoder(lr)
	dec.Strict = true
	var m Message
	if err := dec.Decode(&m); err != nil {
		if lr.N <= 0 {
			return nil, domain.FieldErrorf("file", "is larger than %d MiB", maxMessage>>20)
		}
		return nil, domain.FieldErrorf("file", "is not a SEN2 return: %s", strings.TrimPrefix(err.Error(), "xml: "))
	}
	if m.XMLName.Local != "Message" {
		return nil, domain.FieldErrorf("file", "is not a SEN2 return: its root is %s, not Message", m.XMLName.Local)
	}
	return &m, nil
}
