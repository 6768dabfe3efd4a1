package tests

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
)

// TestMigrateToEventStoreDBAndServeFromIt copies a demo database into an
// EventStoreDB (the in-process fake, through the real client), runs the
// migration again to show it resumes safely, then serves from EventStoreDB
// and checks that the views match those served from SQLite.
func TestMigrateToEventStoreDBAndServeFromIt(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	s := startServer(t, db, "--demo")
	before := s.must(200, "GET", "/v1/worklist?la=E09999999&status=running,overdue,met,late,ended&limit=10000", "")
	caseBefore := s.must(200, "GET", "/v1/cases/DEMO-003", "")
	s.stop()

	srv, err := fakeserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop) // registered before the servers below, so it stops after them
	run := func() string {
		t.Helper()
		out, err := exec.Command(binary, "migrate", "--from", "sqlite:"+db, "--to", srv.ConnectionString()).CombinedOutput()
		if err != nil {
			t.Fatalf("migrate: %v\n%s", err, out)
		}
		return string(out)
	}
	first := run()
	if !strings.Contains(first, "(0 already in the target)") || !strings.Contains(first, "verified") {
		t.Fatalf("first migration: %s", first)
	}
	again := run()
	if !strings.Contains(again, "copied 0 events") || !strings.Contains(again, "verified") {
		t.Fatalf("second migration: %s", again)
	}

	e := startServer(t, "", "--store", srv.ConnectionString(), "--views", filepath.Join(dir, "esdb.views"))
	after := e.must(200, "GET", "/v1/worklist?la=E09999999&status=running,overdue,met,late,ended&limit=10000", "")
	if !reflect.DeepEqual(before["items"], after["items"]) {
		b, _ := json.Marshal(before["items"])
		a, _ := json.Marshal(after["items"])
		t.Fatalf("worklists differ\nsqlite: %.400s\nesdb:   %.400s", b, a)
	}
	if caseAfter := e.must(200, "GET", "/v1/cases/DEMO-003", ""); !reflect.DeepEqual(caseBefore["clocks"], caseAfter["clocks"]) {
		t.Fatalf("case views differ")
	}
	// Commands work on EventStoreDB too.
	e.must(201, "POST", "/v1/cases/DEMO-008/commands/decide_to_assess", `{}`)
	if v := e.must(200, "GET", "/v1/cases/DEMO-008", "")["version"]; v != float64(3) {
		t.Fatalf("version after a command on EventStoreDB: %v", v)
	}
}
