package tests

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
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
	// A case with a plan to compare, and one awaiting its decision to command.
	planned := firstCase(t, s, "clock=final_plan&status=met,late")
	waiting := firstCase(t, s, "clock=decide_to_assess&status=running,overdue")
	caseBefore := s.must(200, "GET", "/v1/cases/"+planned, "")
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

	// The case keys stay where the embedded store kept them: they are never
	// events, so migrate does not move them.
	keys := filepath.Join(t.TempDir(), "ledger")
	if out, err := exec.Command(binary, "checkpoint", "keygen", "--origin", "ehcledger.test/esdb", "--out", keys).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	witness := filepath.Join(t.TempDir(), "witness.txt")
	e := startServer(t, "", "--store", srv.ConnectionString(), "--views", filepath.Join(dir, "esdb.views"), "--keys", db+".keys",
		"--checkpoint-key", keys+".key", "--checkpoint-every", "1s", "--witness", witness)
	e.la = s.la // the demo LA's cases, migrated
	after := e.must(200, "GET", "/v1/worklist?la=E09999999&status=running,overdue,met,late,ended&limit=10000", "")
	if !reflect.DeepEqual(before["items"], after["items"]) {
		b, _ := json.Marshal(before["items"])
		a, _ := json.Marshal(after["items"])
		t.Fatalf("worklists differ\nsqlite: %.400s\nesdb:   %.400s", b, a)
	}
	if caseAfter := e.must(200, "GET", "/v1/cases/"+planned, ""); !reflect.DeepEqual(caseBefore["clocks"], caseAfter["clocks"]) {
		t.Fatalf("case views differ")
	}
	// Commands work on EventStoreDB too.
	version := e.must(200, "GET", "/v1/cases/"+waiting, "")["version"].(float64)
	e.must(201, "POST", "/v1/cases/"+waiting+"/commands/decide_to_assess", `{}`)
	if v := e.must(200, "GET", "/v1/cases/"+waiting, "")["version"]; v != version+1 {
		t.Fatalf("version after a command on EventStoreDB: %v", v)
	}

	// The log's tree and checkpoints on KurrentDB, whose positions are
	// offsets: the leaves are looked up by position.
	auditor := tokenAs(t, "auditor-1", auth.Auditor, "E09999999")
	var signed string
	for deadline := time.Now().Add(20 * time.Second); signed == "" || !strings.Contains(signed, "\n"); time.Sleep(100 * time.Millisecond) {
		if code, body := getAs(t, e.base+"/v1/checkpoint", auditor); code == 200 {
			signed = body
		} else if time.Now().After(deadline) {
			t.Fatalf("no checkpoint: %d %s\n%s", code, body, e.logs)
		}
	}
	code, proof := getAs(t, e.base+"/v1/cases/"+planned+"/proof", auditor)
	if code != 200 {
		t.Fatalf("proof: %d %s", code, proof)
	}
	proofFile := filepath.Join(dir, "proof.json")
	writeFile(t, proofFile, proof)
	if out, stderr, code := runExit(t, "verify-case", "--case", planned, "--proof", proofFile, "--checkpoint", witness, "--pub", keys+".pub"); code != 0 {
		t.Fatalf("verify-case exited %d: %s%s", code, out, stderr)
	}
	e.stop()
	if out, _, code := runExit(t, "verify", "--store", srv.ConnectionString(), "--views", filepath.Join(dir, "esdb.views"),
		"--checkpoint", witness, "--pub", keys+".pub"); code != 0 || !strings.Contains(out, "the log extends the checkpoint of ehcledger.test/esdb") {
		t.Fatalf("verify against KurrentDB exited %d:\n%s", code, out)
	}
}

// firstCase returns the case of the first worklist item matching query.
func firstCase(t *testing.T, s *server, query string) string {
	t.Helper()
	items := s.must(200, "GET", "/v1/worklist?limit=1&"+query, "")["items"].([]any)
	if len(items) == 0 {
		t.Fatalf("no worklist item matches %s", query)
	}
	return items[0].(map[string]any)["case"].(string)
}

// TestAnElectionIsWaitedForOrAnsweredWithRetryAfter serves from a two-node
// stand-in cluster. A command sent during a short election waits for the
// new leader and is recorded; one sent while no leader is elected within
// the store's retry budget is answered 503 with Retry-After, records
// nothing, and is recorded once when sent again with its Idempotency-Key.
func TestAnElectionIsWaitedForOrAnsweredWithRetryAfter(t *testing.T) {
	srv := fakeserver.StartTest(t)
	second, err := srv.AddNode("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conn := "esdb://" + srv.Addr() + "," + second + "?tls=false&maxDiscoverAttempts=3&discoveryInterval=20&retryFor=3s"
	s := startServer(t, "", "--store", conn, "--views", filepath.Join(dir, "views.db"), "--keys", filepath.Join(dir, "keys.db"))
	today := londonToday(t)
	for _, id := range []string{"elect-1", "elect-2"} {
		s.must(201, "POST", "/v1/cases", `{"id":"`+id+`","la":"E09000001","on":"`+today+`","data":{"requester":"parent","birth_date":"2016-01-01"}}`)
	}
	version := func(id string) float64 {
		t.Helper()
		return s.must(200, "GET", "/v1/cases/"+id, "")["version"].(float64)
	}

	t.Run("a command sent during a short election is recorded", func(t *testing.T) {
		before := version("elect-1")
		srv.Elect(-1)
		go func() {
			time.Sleep(time.Second)
			srv.Elect(1)
		}()
		s.must(201, "POST", "/v1/cases/elect-1/commands/decide_to_assess", `{}`)
		if v := version("elect-1"); v != before+1 {
			t.Fatalf("version %v after one command, was %v", v, before)
		}
	})

	t.Run("a command sent while no leader is elected is answered 503 and recorded once when sent again", func(t *testing.T) {
		before := version("elect-2")
		srv.Elect(-1)
		code, header, body := s.call("POST", "/v1/cases/elect-2/commands/decide_to_assess", `{}`, "Idempotency-Key", "elect-2-decision")
		srv.Elect(0)
		if code != 503 || header.Get("Retry-After") == "" || body["code"] != "unavailable" ||
			!strings.HasPrefix(header.Get("Content-Type"), "application/problem+json") || !strings.Contains(body["detail"].(string), "try again") {
			t.Fatalf("answered %d, Retry-After %q: %v", code, header.Get("Retry-After"), body)
		}
		if v := version("elect-2"); v != before {
			t.Fatalf("version %v after a refused command, was %v", v, before)
		}
		for range 2 {
			if code, _, body := s.call("POST", "/v1/cases/elect-2/commands/decide_to_assess", `{}`, "Idempotency-Key", "elect-2-decision"); code != 201 && code != 200 {
				t.Fatalf("sent again: %d %v", code, body)
			}
		}
		if v := version("elect-2"); v != before+1 {
			t.Fatalf("version %v after the command sent three times, was %v", v, before)
		}
	})
}
