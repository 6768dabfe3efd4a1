package tests

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/auth"
)

// TestPersonalDataIsSealedAndErasable records a request with a child's
// details, checks that they are nowhere on disk in the clear, then erases
// them and checks that they are unreadable while the case's steps, clocks,
// figures and hash chains stay as they were.
func TestPersonalDataIsSealedAndErasable(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "private.db")
	s := startServer(t, db)
	cw := "Bearer " + tokenAs(t, "cw-1", auth.Caseworker, "E09000001")
	s.must(201, "POST", "/v1/cases", `{"id":"p1","la":"E09000001","on":"2024-03-01","reason":"from the paper file","data":{"requester":"parent",
		"birth_date":"2016-02-29","forename":"Ottoline","surname":"Quirke-Ellingham","address":"7 Larkspur Row, Tadcaster","postcode":"LS24 9ZZ"}}`, "Authorization", cw)
	s.must(201, "POST", "/v1/cases/p1/commands/decide_to_assess", `{"on":"2024-04-05","reason":"from the paper file"}`, "Authorization", cw)
	s.must(201, "POST", "/v1/las/E09000001/commands/set_dfe_la_number", `{"on":"2024-03-01","data":{"number":"201"}}`,
		"Authorization", "Bearer "+tokenAs(t, "admin-1", auth.Admin, "*"))
	// A mis-keyed request is corrected: its date (which starts the clocks)
	// and the child's details, which the correction seals as the request
	// sealed them.
	s.must(201, "POST", "/v1/cases/p1/commands/correct_step", `{"reason":"from the paper file","data":{"version":1,"on":"2024-02-28",
		"reason":"the date stamp and the forename were mis-keyed","data":{"requester":"parent","birth_date":"2016-02-29",
		"forename":"Ottilie","surname":"Quirke-Ellingham","address":"7 Larkspur Row, Tadcaster","postcode":"LS24 9ZZ"}}}`, "Authorization", cw)
	// Every free text carries a marker: the reason a step is recorded
	// late, an exception's evidence, a correction's reason and the
	// evidence it corrects to.
	s.must(201, "POST", "/v1/cases/p1/commands/record_exception", `{"on":"2024-04-10","reason":"MARKER-LATE-REASON-Q7",
		"data":{"kind":"personal_circumstances","from":"2024-04-01","to":"2024-04-09","evidence":"MARKER-EVIDENCE-Q7"}}`, "Authorization", cw)
	s.must(201, "POST", "/v1/cases/p1/commands/correct_step", `{"reason":"r","data":{"version":4,"reason":"MARKER-CORRECTION-REASON-Q7",
		"data":{"kind":"personal_circumstances","from":"2024-04-01","to":"2024-04-09","evidence":"MARKER-CORRECTED-EVIDENCE-Q7"}}}`, "Authorization", cw)
	opened := s.must(200, "GET", "/v1/cases/p1/timeline", "", "Authorization", cw)["timeline"].([]any)
	if r := opened[3].(map[string]any)["reason"]; r != "MARKER-LATE-REASON-Q7" {
		t.Fatalf("the timeline does not open the sealed reason: %v", r)
	}
	before := s.must(200, "GET", "/v1/cases/p1", "", "Authorization", cw)
	person, _ := before["person"].(map[string]any)
	if person["forename"] != "Ottilie" || person["surname"] != "Quirke-Ellingham" || person["birth_date"] != "2016-02-29" || person["postcode"] != "LS24 9ZZ" {
		t.Fatalf("the case view does not show the corrected details: %v", before["person"])
	}
	for _, c := range before["clocks"].([]any) {
		if row := c.(map[string]any); row["clock"] == "decide_to_assess" && row["started"] != "2024-02-28" {
			t.Fatalf("the 6-week clock does not start on the corrected request date: %v", row)
		}
	}
	stats := s.must(200, "GET", "/v1/stats?la=E09000001&from=2024-01-01&to=2024-12-31&as_of=2024-12-31", "")
	firstLogs := s.logs.String()
	s.stop()

	secrets := []string{"Quirke-Ellingham", "Ottoline", "Ottilie", "Larkspur", "LS24 9ZZ", "2016-02-29", "MARKER-"}
	seen := false // the scan reads what is stored: the request's other data is there
	for _, f := range append(filesUnder(t, dir), fileData{name: "server logs", data: []byte(firstLogs)}) {
		seen = seen || bytes.Contains(f.data, []byte(`"requester":"parent"`))
		for _, secret := range secrets {
			if bytes.Contains(f.data, []byte(secret)) {
				t.Errorf("%s holds %q in the clear", f.name, secret)
			}
		}
	}
	if !seen {
		t.Fatal("no file holds the request's data: the scan proves nothing")
	}
	// The statutory return shows the request as corrected.
	out, _, _ := runExit(t, "export", "sen2", "--db", db, "--year", "2025", "--la", "E09000001", "--format", "csv")
	if row := out; !strings.Contains(row, "\n1,Quirke-Ellingham,Ottilie,2016-02-29,") || !strings.Contains(row, ",2024-02-28,1,") {
		t.Fatalf("the return does not show the corrected request:\n%s", out)
	}

	s = startServer(t, db)
	s.must(403, "POST", "/v1/cases/p1/commands/erase_personal_data", `{"data":{"reason":"the young person asked"}}`, "Authorization", cw)
	mgr := "Bearer " + tokenAs(t, "mgr-1", auth.Manager, "E09000001")
	s.must(422, "POST", "/v1/cases/p1/commands/erase_personal_data", `{"data":{}}`, "Authorization", mgr)
	s.must(201, "POST", "/v1/cases/p1/commands/erase_personal_data", `{"data":{"reason":"MARKER-ERASURE-REASON-Q7"}}`, "Authorization", mgr)
	s.must(409, "POST", "/v1/cases/p1/commands/erase_personal_data", `{"data":{"reason":"again"}}`, "Authorization", mgr)
	after := s.must(200, "GET", "/v1/cases/p1", "", "Authorization", cw)
	if p, _ := after["person"].(map[string]any); p["erased"] != true || p["surname"] != nil || p["birth_date"] != nil {
		t.Fatalf("after erasure the case view shows %v", after["person"])
	}
	if !reflect.DeepEqual(before["clocks"], after["clocks"]) {
		t.Fatalf("erasure changed the clocks:\n%v\n%v", before["clocks"], after["clocks"])
	}
	if again := s.must(200, "GET", "/v1/stats?la=E09000001&from=2024-01-01&to=2024-12-31&as_of=2024-12-31", ""); !reflect.DeepEqual(stats, again) {
		t.Fatalf("erasure changed the figures:\n%v\n%v", stats, again)
	}
	tl := s.must(200, "GET", "/v1/cases/p1/timeline", "", "Authorization", cw)["timeline"].([]any)
	if last := tl[len(tl)-1].(map[string]any); last["event"] != "personal_data_erased" || last["actor"] != "mgr-1" {
		t.Fatalf("the timeline does not end with the erasure: %v", last)
	}
	if r := tl[3].(map[string]any)["reason"]; r != "(erased)" {
		t.Fatalf("after erasure the late step's reason reads %v", r)
	}
	// Erased details take no correction; the request's date still does.
	s.must(409, "POST", "/v1/cases/p1/commands/correct_step", `{"data":{"version":1,"reason":"r","data":{"requester":"parent","birth_date":"2016-03-01"}}}`, "Authorization", cw)
	s.must(201, "POST", "/v1/cases/p1/commands/correct_step", `{"data":{"version":1,"on":"2024-02-27","reason":"the stamp was a day out"}}`, "Authorization", cw)
	if p, _ := s.must(200, "GET", "/v1/cases/p1", "", "Authorization", cw)["person"].(map[string]any); p["erased"] != true || p["forename"] != nil {
		t.Fatalf("after a correction of an erased case the view shows %v", p)
	}
	logs := s.logs.String()
	s.stop()
	// Nothing any server wrote holds a marker in the clear: store, WAL,
	// views, snapshots, keys, and the logs.
	for _, f := range append(filesUnder(t, dir), fileData{name: "server logs", data: []byte(logs)}) {
		if bytes.Contains(f.data, []byte("MARKER-")) {
			t.Errorf("%s holds a free-text marker in the clear", f.name)
		}
	}
	if out, err := exec.Command(binary, "verify", "--db", db).CombinedOutput(); err != nil || !strings.Contains(string(out), "every hash chain is intact") {
		t.Fatalf("verify after erasure: %v\n%s", err, out)
	}
}

type fileData struct {
	name string
	data []byte
}

// filesUnder reads every file below dir, gzip files decompressed.
func filesUnder(t *testing.T, dir string) []fileData {
	t.Helper()
	var out []fileData
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return err
			}
			if b, err = io.ReadAll(zr); err != nil {
				return err
			}
		}
		out = append(out, fileData{name: filepath.Base(path), data: b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 3 {
		t.Fatalf("only %d files under %s", len(out), dir)
	}
	return out
}
