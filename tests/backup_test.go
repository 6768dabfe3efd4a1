package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
)

// openCase opens a case of E09000001 with personal details over HTTP.
func openCase(s *server, token, id string) (int, map[string]any) {
	status, _, body := s.call("POST", "/v1/cases", `{"id":"`+id+`","la":"E09000001","on":"2026-11-02","reason":"from the paper file",`+
		`"data":{"requester":"parent","birth_date":"2016-02-29","forename":"Name`+id+`","surname":"Surname`+id+`"}}`, "Authorization", token)
	return status, body
}

// openCasesUntil opens cases named PREFIX-W-I from four clients at once
// until stop closes, and returns those acknowledged and how many were
// refused.
func openCasesUntil(s *server, token, prefix string, stop <-chan struct{}) (acknowledged []string, refused int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("%s%d-%d", prefix, w, i)
				status, _ := openCase(s, token, id)
				mu.Lock()
				if status == 201 {
					acknowledged = append(acknowledged, id)
				} else {
					refused++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acknowledged, refused
}

// TestABackupTakenUnderWritesRestoresEveryCaseAndKeepsLaterErasures runs
// the server, backs up its key store, then its event store while
// caseworkers keep recording, erases a case's personal details, backs the
// event store up again and loses the data directory. The restore from the
// two backups must give back every case acknowledged, the same figures and
// intact chains; the case erased after the key store's backup must stay
// erased, and the others' details must open.
func TestABackupTakenUnderWritesRestoresEveryCaseAndKeepsLaterErasures(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "events.db")
	eventsAt, keysAt := filepath.Join(dir, "backups"), filepath.Join(dir, "key-backups")
	if err := os.Mkdir(filepath.Dir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, db)
	cw := "Bearer " + tokenAs(t, "cw-1", auth.Caseworker, "E09000001")
	for i := range 10 {
		if status, body := openCase(s, cw, fmt.Sprintf("b%d", i)); status != 201 {
			t.Fatalf("opening case b%d: %d %v", i, status, body)
		}
	}
	if out, errOut, code := runExit(t, "backup", "keys", "--db", db, "--to", keysAt); code != 0 || !strings.Contains(out, "10 keys, 0 erased") {
		t.Fatalf("backup keys: %d\n%s\n%s", code, out, errOut)
	}

	// Caseworkers keep recording while the event store is backed up.
	stop := make(chan struct{})
	load := make(chan []string)
	go func() { ids, _ := openCasesUntil(s, cw, "w", stop); load <- ids }()
	out, errOut, code := runExit(t, "backup", "--db", db, "--to", eventsAt)
	close(stop)
	acknowledged := <-load
	if code != 0 || !strings.Contains(out, "backed up") {
		t.Fatalf("backup under writes: %d\n%s\n%s", code, out, errOut)
	}
	if len(acknowledged) == 0 {
		t.Fatal("no case was recorded while the backup ran: the test proves nothing")
	}
	t.Logf("%d cases were opened while the backup ran", len(acknowledged))
	if out, errOut, code := runExit(t, "backup", "keys", "--db", db, "--to", eventsAt); code == 0 || !strings.Contains(errOut, "apart") {
		t.Fatalf("a key store's backup beside the event store's was taken: %d\n%s\n%s", code, out, errOut)
	}

	// After the key store's backup, a case is erased.
	mgr := "Bearer " + tokenAs(t, "mgr-1", auth.Manager, "E09000001")
	s.must(201, "POST", "/v1/cases/b3/commands/erase_personal_data", `{"data":{"reason":"the young person asked"}}`, "Authorization", mgr)
	statsURL := "/v1/stats?la=E09000001&from=2026-01-01&to=2026-12-31&as_of=2026-12-31"
	stats := s.must(200, "GET", statsURL, "")
	if out, errOut, code := runExit(t, "backup", "--db", db, "--to", eventsAt); code != 0 {
		t.Fatalf("backup: %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := runExit(t, "verify", "--backup", eventsAt, "--all"); code != 0 || strings.Count(out, " is intact") != 2 {
		t.Fatalf("verify --backup --all: %d\n%s\n%s", code, out, errOut)
	}
	s.stop()

	// The disk is lost.
	if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(dir, "restored", "events.db")
	out, errOut, code = runExit(t, "restore", "--from", eventsAt, "--keys-from", keysAt, "--db", restored)
	if code != 0 || !strings.Contains(out, "they count the figures the backup recorded") || !strings.Contains(out, "erased again the keys of 1 case(s)") ||
		!strings.Contains(out, fmt.Sprintf("WARNING: %d case(s) were opened after the key store's backup", len(acknowledged))) {
		t.Fatalf("restore: %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := runExit(t, "verify", "--db", restored); code != 0 || !strings.Contains(out, "every hash chain is intact") {
		t.Fatalf("verify of the restored store: %d\n%s\n%s", code, out, errOut)
	}
	s = startServer(t, restored)
	defer s.stop()
	if got := s.must(200, "GET", statsURL, ""); !reflect.DeepEqual(got, stats) {
		t.Errorf("the restored store's figures differ:\n got %v\nwant %v", got, stats)
	}
	// The cases opened after the key store's backup are back, steps and
	// all; their details, sealed with keys the backup lacks, are shown as
	// such.
	for _, id := range acknowledged {
		status, _, view := s.call("GET", "/v1/cases/"+id, "", "Authorization", cw)
		if status != 200 {
			t.Fatalf("case %s, acknowledged before the backup ended, is not restored: %d\n%s", id, status, s.logs.String())
		}
		if p, _ := view["person"].(map[string]any); p["unavailable"] != true || p["forename"] != nil {
			t.Fatalf("case %s, opened after the key store's backup, shows %v", id, p)
		}
	}
	if p, _ := s.must(200, "GET", "/v1/cases/b3", "", "Authorization", cw)["person"].(map[string]any); p["erased"] != true || p["forename"] != nil {
		t.Fatalf("the case erased after the key store's backup is readable again: %v", p)
	}
	if p, _ := s.must(200, "GET", "/v1/cases/b4", "", "Authorization", cw)["person"].(map[string]any); p["forename"] != "Nameb4" {
		t.Fatalf("another case's details do not open after the restore: %v", p)
	}
}

// TestABackupKeepsTheLastSignedCheckpointAndIsCheckedAgainstItsKey signs
// checkpoints of a running server's log, backs it up, and checks that the
// manifest keeps the last one and that verify --backup --pub checks the
// backup against it: with the right key it passes, with another it fails.
// (That the checkpoint is read before the copy is not what it tests: a
// copy of a store this small takes less time than a checkpoint's interval.)
func TestABackupKeepsTheLastSignedCheckpointAndIsCheckedAgainstItsKey(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(data, "events.db")
	keys, other := filepath.Join(dir, "log"), filepath.Join(dir, "other")
	for _, k := range []string{keys, other} {
		if out, err := exec.Command(binary, "checkpoint", "keygen", "--origin", "ehcledger.test/log", "--out", k).CombinedOutput(); err != nil {
			t.Fatalf("keygen: %v\n%s", err, out)
		}
	}
	witness := filepath.Join(dir, "witness.txt")
	s := startServer(t, db, "--checkpoint-key", keys+".key", "--checkpoint-every", "1s", "--witness", witness)
	cw := "Bearer " + tokenAs(t, "cw-1", auth.Caseworker, "E09000001")
	for i := range 5 {
		if status, body := openCase(s, cw, fmt.Sprintf("c%d", i)); status != 201 {
			t.Fatalf("opening case c%d: %d %v", i, status, body)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(witness); strings.Contains(string(b), "ehcledger.test/log") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint was signed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	at := filepath.Join(dir, "backups")
	if out, errOut, code := runExit(t, "backup", "--db", db, "--to", at); code != 0 || strings.Contains(out, "no signed checkpoint") {
		t.Fatalf("backup: %d\n%s\n%s", code, out, errOut)
	}
	s.stop()
	if out, errOut, code := runExit(t, "verify", "--backup", at, "--pub", keys+".pub"); code != 0 || !strings.Contains(out, "extends the signed checkpoint") {
		t.Fatalf("verify --backup with the log's key: %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := runExit(t, "verify", "--backup", at, "--pub", other+".pub"); code == 0 {
		t.Fatalf("verify --backup with another key passed:\n%s\n%s", out, errOut)
	}
	// A restore given the key does the same checks.
	refused := filepath.Join(dir, "refused", "events.db")
	if out, errOut, code := runExit(t, "restore", "--from", at, "--db", refused, "--pub", other+".pub"); code == 0 {
		t.Fatalf("restore --pub with another key passed:\n%s\n%s", out, errOut)
	}
	if left, _ := filepath.Glob(refused + "*"); len(left) != 0 {
		t.Fatalf("a refused restore left %v", left)
	}
	if out, errOut, code := runExit(t, "restore", "--from", at, "--db", filepath.Join(dir, "restored", "events.db"), "--pub", keys+".pub"); code != 0 {
		t.Fatalf("restore --pub with the log's key: %d\n%s\n%s", code, out, errOut)
	}
}
