package app_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/sen2"
	"github.com/ehcledger/ehcledger/simulate"
)

// exportXML writes an LA's 2025 return, made at a fixed time.
func exportXML(t *testing.T, l *app.Ledger, la string) []byte {
	t.Helper()
	c, err := sen2.Lookup(2025)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.SEN2Return(context.Background(), app.SEN2Options{LA: la, Collection: c, Release: "test", SerialNo: 1,
		Made: time.Date(2025, 1, 20, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := res.Message.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// freshLedger is an empty store and key store with the LA's DfE number.
func freshLedger(t *testing.T, dir, la, number string) *app.Ledger {
	t.Helper()
	l := start(t, filepath.Join(dir, "events.db"))
	ks, err := keys.Open(filepath.Join(dir, "keys.db"), make([]byte, 32), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	l.Keys, l.Holidays = ks, calendar.NewEnglandWales()
	if err := l.ExecuteLA(context.Background(), la, "set_dfe_la_number", domain.NewDate(2020, 1, 1), []byte(`{"number":"`+number+`"}`), "admin"); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAReturnExportedImportedAndExportedAgainIsTheSame(t *testing.T) {
	ctx := context.Background()
	la := simulate.LACode("E09", 0)
	first := freshLedger(t, t.TempDir(), "unused", "999")
	if _, err := simulate.Run(ctx, first.Store, simulate.Options{LAs: 1, CasesPerYear: 120, Years: 3, Seed: 11, Until: domain.NewDate(2025, 6, 30),
		Rates: simulate.National, Keys: first.Keys, Now: now}, nil); err != nil {
		t.Fatal(err)
	}
	// A child at school before the request: the placement began earlier.
	steps(t, first, "early-school", la,
		[3]string{"receive_request", "2024-03-04", `{"requester":"school","birth_date":"2015-02-03","surname":"Early","upn":"` + upnFor(7) + `"}`},
		[3]string{"decide_to_assess", "2024-04-08", ""},
		[3]string{"send_draft_plan", "2024-06-03", ""},
		[3]string{"issue_final_plan", "2024-07-15", `{"school":"S1"}`},
		[3]string{"record_sen_needs", "2024-07-15", `{"primary":"SLCN"}`},
		[3]string{"record_placement", "2024-07-22", `{"urn":"100001","rank":1,"named_in_plan":true,"from":"2021-09-01"}`})
	before := exportXML(t, first, la)
	if !bytes.Contains(before, []byte("<EntryDate>2021-09-01</EntryDate>")) {
		t.Fatal("the placement begun before the request is not in the return")
	}
	second := freshLedger(t, t.TempDir(), la, simulate.DfENumber(0))
	res, err := second.ImportSEN2(ctx, app.SEN2Import{LA: la, Name: "sen2-2025.xml", Data: before, Actor: "import:sen2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) < 50 || len(res.Already) != 0 {
		t.Fatalf("imported %d cases, %d already there", len(res.Cases), len(res.Already))
	}
	after := exportXML(t, second, la)
	if !bytes.Equal(before, after) {
		b, a := strings.Split(string(before), "\n"), strings.Split(string(after), "\n")
		for i := 0; i < len(b) && i < len(a); i++ {
			if b[i] != a[i] {
				lo := max(0, i-25)
				t.Fatalf("the returns differ from line %d:\n--- exported\n%s\n--- imported and exported again\n%s", i+1,
					strings.Join(b[lo:min(len(b), i+5)], "\n"), strings.Join(a[lo:min(len(a), i+5)], "\n"))
			}
		}
		t.Fatalf("the returns differ in length: %d and %d lines", len(b), len(a))
	}
	t.Run("importing the same file again changes nothing", func(t *testing.T) {
		again, err := second.ImportSEN2(ctx, app.SEN2Import{LA: la, Name: "sen2-2025.xml", Data: before, Actor: "import:sen2"})
		if err != nil || len(again.Cases) != 0 || len(again.Already) != len(res.Cases) {
			t.Fatalf("%+v %v", again, err)
		}
		if !bytes.Equal(exportXML(t, second, la), after) {
			t.Fatal("the second import changed the return")
		}
	})
	t.Run("a file with a bad request imports nothing and names it", func(t *testing.T) {
		bad := strings.Replace(string(before), "<ReceivedDate>", "<ReceivedDate>20", 1)
		third := freshLedger(t, t.TempDir(), la, simulate.DfENumber(0))
		_, err := third.ImportSEN2(ctx, app.SEN2Import{LA: la, Name: "bad.xml", Data: []byte(bad), Actor: "import:sen2"})
		var f app.ImportFailures
		if !errors.As(err, &f) || !strings.Contains(err.Error(), "person 1, request 1: ReceivedDate") {
			t.Fatalf("%v", err)
		}
		if m := exportXML(t, third, la); strings.Contains(string(m), "<Person>") {
			t.Fatal("a request was imported from a file with a failure")
		}
	})
	t.Run("an LA with no DfE number takes the file's", func(t *testing.T) {
		fourth := start(t, filepath.Join(t.TempDir(), "events.db"))
		fourth.Keys, fourth.Holidays = second.Keys, second.Holidays
		if _, err := fourth.ImportSEN2(ctx, app.SEN2Import{LA: la, Name: "sen2-2025.xml", Data: before, Actor: "import:sen2"}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(exportXML(t, fourth, la), before) {
			t.Fatal("the return differs")
		}
	})
	t.Run("a request given twice imports nothing and names both", func(t *testing.T) {
		x := string(before)
		i, j := strings.Index(x, "<Person>"), strings.Index(x, "</Person>")+len("</Person>")
		twice := x[:j] + "\n    " + x[i:j] + x[j:]
		fifth := freshLedger(t, t.TempDir(), la, simulate.DfENumber(0))
		_, err := fifth.ImportSEN2(ctx, app.SEN2Import{LA: la, Name: "twice.xml", Data: []byte(twice), Actor: "import:sen2"})
		if err == nil || !strings.Contains(err.Error(), "person 2, request 1: the same child and date of request as person 1, request 1") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("another LA's file is refused", func(t *testing.T) {
		other := freshLedger(t, t.TempDir(), "E09000002", "951")
		if _, err := other.ImportSEN2(ctx, app.SEN2Import{LA: "E09000002", Name: "x.xml", Data: before, Actor: "import:sen2"}); err == nil ||
			!strings.Contains(domain.ErrorMessage(err), "the file is the return of LA 950") {
			t.Fatalf("%v", err)
		}
	})
}
