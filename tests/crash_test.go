package tests

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

// sent is one command a client sent during the crash test.
type sent struct {
	path, body, key string
	acked           bool
}

// TestAKilledServerKeepsEveryAcknowledgedCommandAndNothingTwice sends
// commands from concurrent clients, kills the server with SIGKILL in the
// middle, restarts it, and checks that every acknowledged command is there,
// that the store's hash chains verify, that the views agree with the store,
// and that retrying the unacknowledged commands with their idempotency keys
// records each exactly once.
func TestAKilledServerKeepsEveryAcknowledgedCommandAndNothingTwice(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crash.db")
	// One token for every client, unlimited: rate limits have their own test.
	s := startServer(t, db, "--rate-limit", "0")
	token := "Bearer " + tokenAs(t, "crash-client", auth.Caseworker, "E09000001")
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(base string, c *sent) (int, error) {
		req, _ := http.NewRequest("POST", base+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", token)
		req.Header.Set("Idempotency-Key", c.key)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	var mu sync.Mutex
	byCase := map[string][]*sent{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("crash-%d-%d", w, i)
				open := &sent{path: "/v1/cases", key: "open-" + id,
					body: `{"id":"` + id + `","la":"E09000001","data":{"requester":"parent","birth_date":"2016-02-01"}}`}
				mu.Lock()
				byCase[id] = append(byCase[id], open)
				mu.Unlock()
				code, err := send(s.base, open)
				if err != nil {
					return // the server is gone
				}
				if code != 201 {
					t.Errorf("open %s: %d", id, code)
					return
				}
				mu.Lock()
				open.acked = true
				decide := &sent{path: "/v1/cases/" + id + "/commands/decide_to_assess", key: "decide-" + id, body: `{}`}
				byCase[id] = append(byCase[id], decide)
				mu.Unlock()
				code, err = send(s.base, decide)
				if err != nil {
					return
				}
				if code != 201 {
					t.Errorf("decide %s: %d", id, code)
					return
				}
				mu.Lock()
				decide.acked = true
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait() // killed: the error is expected
	close(stop)
	wg.Wait()

	acked, unacked := 0, 0
	for _, cmds := range byCase {
		for _, c := range cmds {
			if c.acked {
				acked++
			} else {
				unacked++
			}
		}
	}
	t.Logf("%d commands acknowledged, %d in flight when the server was killed", acked, unacked)
	if acked < 20 {
		t.Fatalf("only %d commands were acknowledged before the kill: too few to test anything", acked)
	}

	// Every acknowledged command is in the store, each case's versions run
	// from 1 without gaps, and the hash chains verify.
	stored := storedVersions(t, db)
	for id, cmds := range byCase {
		want := 0
		for i, c := range cmds {
			if c.acked {
				want = i + 1
			}
		}
		if got := stored[id]; got < want {
			t.Errorf("case %s: %d events stored, but %d commands were acknowledged", id, got, want)
		}
		if stored[id] > len(cmds) {
			t.Errorf("case %s: %d events stored for %d commands sent", id, stored[id], len(cmds))
		}
	}
	if out, err := exec.Command(binary, "verify", "--db", db).CombinedOutput(); err != nil || !strings.Contains(string(out), "every hash chain is intact") {
		t.Fatalf("verify after the crash: %v\n%s", err, out)
	}

	// The restarted server catches up, and retrying every unacknowledged
	// command with its key records it once: never twice.
	s = startServer(t, db, "--rate-limit", "0")
	for id, cmds := range byCase {
		for _, c := range cmds {
			if c.acked {
				continue
			}
			code, err := send(s.base, c)
			if err != nil || (code != 201 && code != 200) {
				t.Fatalf("retry of %s for %s: %d %v", c.key, id, code, err)
			}
		}
	}
	stored = storedVersions(t, db)
	for id, cmds := range byCase {
		if stored[id] != len(cmds) {
			t.Errorf("case %s: %d events after retries, want exactly %d", id, stored[id], len(cmds))
		}
		hist := s.must(200, "GET", "/v1/cases/"+id+"/history", "")
		if n := len(hist["history"].([]any)); n != len(cmds) {
			t.Errorf("case %s: the audit view shows %d events, the store %d", id, n, len(cmds))
		}
	}
}

// storedVersions reads each crash case's number of events straight from the
// store, checking the versions run from 1 without gaps.
func storedVersions(t *testing.T, db string) map[string]int {
	t.Helper()
	conn, err := sqlitedb.Open(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(`SELECT stream, COUNT(*), MIN(version), MAX(version) FROM events WHERE stream LIKE 'case-crash-%' GROUP BY stream`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var stream string
		var n, lo, hi int
		if err := rows.Scan(&stream, &n, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		if lo != 1 || hi != n {
			t.Errorf("%s: versions %d..%d for %d events", stream, lo, hi, n)
		}
		out[strings.TrimPrefix(stream, "case-")] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLoadTestReportsRateAndLatency runs the bounded loopback load test
// briefly: it must finish, fail no command, and report its figures.
func TestLoadTestReportsRateAndLatency(t *testing.T) {
	out, err := exec.Command(binary, "loadtest", "--clients", "4", "--duration", "1s").CombinedOutput()
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, out)
	}
	for _, want := range []string{"against the real server on 127.0.0.1:", "commands/s sustained", "p99", "0 failed"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("loadtest output lacks %q:\n%s", want, out)
		}
	}
}
