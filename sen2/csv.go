package sen2

import (
	"io"
	"strconv"

	"github.com/ehcledger/ehcledger/internal/safecsv"
)

// CSVColumns are the columns of a return's readable copy: one row per
// request, the person's items repeated, and of the placements and needs
// the main ones (rank 1). The XML is the return; this is for people to
// read and check it.
var CSVColumns = []string{
	"Person", "Surname", "Forename", "PersonBirthDate", "Sex", "Ethnicity", "PostCode", "UPN", "UniqueLearnerNumber", "UPNunknown",
	"ReceivedDate", "RequestSource", "RYA", "RequestOutcomeDate", "RequestOutcome", "RequestMediation", "RequestTribunal",
	"AssessmentOutcome", "AssessmentOutcomeDate", "AssessmentMediation", "AssessmentTribunal", "OtherMediation", "OtherTribunal", "Week20",
	"StartDate", "CeaseDate", "CeaseReason", "PB", "OA", "DP",
	"TransferLA", "ReviewMeeting", "ReviewOutcome", "LastReview",
	"PlacementURN", "PlacementUKPRN", "PlacementSENsetting", "PlacementEntryDate", "PlacementLeavingDate", "PrimaryNeed", "SecondaryNeed",
}

// WriteCSV writes the return's readable copy, cells a spreadsheet would run
// as formulas neutralised.
func WriteCSV(w io.Writer, m *Message) error {
	cw := safecsv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for i, p := range m.Persons {
		for _, r := range p.Requests {
			var a Assessment
			if r.Assessment != nil {
				a = *r.Assessment
			}
			var np NamedPlan
			if a.NamedPlan != nil {
				np = *a.NamedPlan
			}
			var ap ActivePlans
			if r.ActivePlans != nil {
				ap = *r.ActivePlans
			}
			var pl PlacementDetail
			for _, d := range ap.PlacementDetail {
				if d.PlacementRank == "1" && (pl.EntryDate == "" || d.EntryDate > pl.EntryDate) {
					pl = d
				}
			}
			need := map[string]string{}
			for _, n := range ap.SENneed {
				need[n.SENtypeRank] = n.SENtype
			}
			row := []string{strconv.Itoa(i + 1), p.Surname, p.Forename, p.PersonBirthDate, p.Sex, p.Ethnicity, p.PostCode, p.UPN, p.UniqueLearnerNumber, p.UPNunknown,
				r.ReceivedDate, r.RequestSource, r.RYA, r.RequestOutcomeDate, r.RequestOutcome, r.RequestMediation, r.RequestTribunal,
				a.AssessmentOutcome, a.AssessmentOutcomeDate, a.AssessmentMediation, a.AssessmentTribunal, a.OtherMediation, a.OtherTribunal, a.Week20,
				np.StartDate, np.CeaseDate, np.CeaseReason, np.PB, np.OA, np.DP,
				ap.TransferLA, ap.ReviewMeeting, ap.ReviewOutcome, ap.LastReview,
				pl.URN, pl.UKPRN, pl.SENsetting, pl.EntryDate, pl.LeavingDate, need["1"], need["2"]}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
