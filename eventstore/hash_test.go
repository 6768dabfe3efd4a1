package eventstore_test

import (
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/google/uuid"
)

// TestTheChainHashIsStable pins an event's chain hash: every stored event
// carries one, and a change of the function would make every store fail
// verification. (The value was computed by the function every store so
// far was written with, which hashed field by field.)
func TestTheChainHashIsStable(t *testing.T) {
	e := eventstore.EventData{ID: uuid.MustParse("01890a5d-ac96-774b-bcce-b302099a8057"), Type: "assessment_requested",
		SchemaVersion: 2, OccurredOn: "2024-03-01", RecordedAt: time.Date(2024, 3, 1, 9, 30, 0, 123456789, time.FixedZone("BST", 3600)),
		Actor: "cw-1", LA: "E09000001", CorrelationID: "c-1", CausationID: "k-1", Reason: "from the paper file",
		Payload: []byte(`{"requester":"parent","birth_date":"2015-05-01"}`)}
	got := eventstore.Hash("ab12", "case-c1", 3, e)
	if want := "8816b8d04e7fd1b9cad217af0429d24a19f68e588809174a8e5b385c05b161cd"; got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
}
