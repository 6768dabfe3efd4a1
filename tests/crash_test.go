package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
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

// TestKilledServersKeepEveryAcknowledgedCommandAndNothingTwice runs cycles
// of: commands from concurrent clients, SIGKILL at a random moment (the
// server signs a checkpoint every second and saves its snapshot every 50
// events, so kills land in both), restart. After every cycle every
// acknowledged command is in the store, nothing unacknowledged is half
// there, the log extends every checkpoint the witness was given, the
// restarted server's views equal a fresh rebuild's, and retrying the
// unacknowledged commands with their idempotency keys records each exactly
// once. EHC_CRASH_CYCLES sets the number of cycles (make crash runs 100);
// EHC_CRASH_SEED repeats a run.
func TestKilledServersKeepEveryAcknowledgedCommandAndNothingTwice(t *testing.T) {
	cycles := 10
	if v := os.Getenv("EHC_CRASH_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("EHC_CRASH_CYCLES=%q: give a number of cycles", v)
		}
		cycles = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("EHC_CRASH_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("%d cycles, EHC_CRASH_SEED=%d", cycles, seed)
	rnd := rand.New(rand.NewPCG(seed, 17))

	dir := t.TempDir()
	db := filepath.Join(dir, "crash.db")
	keys := filepath.Join(t.TempDir(), "ledger")
	if out, err := exec.Command(binary, "checkpoint", "keygen", "--origin", "ehcledger.test/crash", "--out", keys).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	witness := filepath.Join(t.TempDir(), "witness.txt")
	// One token for every client, unlimited: rate limits have their own test.
	flags := []string{"--rate-limit", "0", "--checkpoint-key", keys + ".key", "--checkpoint-every", "1s", "--witness", witness,
		"--snapshot-every", "50", "--snapshot-interval", "0s"}
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
	killedInFlight := 0
	flags = append(flags, "--auth-secret", testSecret)
	// A long run's store takes a while to rebuild from scratch.
	start := func(db string, extra ...string) *server {
		t.Helper()
		return startServerWithin(t, 5*time.Minute, nil, db, extra...)
	}
	s := start(db, flags...)
	for cycle := 1; cycle <= cycles; cycle++ {
		// What the last kill left unacknowledged is sent again with its key:
		// recorded once, never twice.
		for id, cmds := range byCase {
			for _, c := range cmds {
				if c.acked {
					continue
				}
				code, err := send(s.base, c)
				if err != nil || (code != 201 && code != 200) {
					t.Fatalf("cycle %d: retry of %s for %s: %d %v", cycle, c.key, id, code, err)
				}
				c.acked = true
			}
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("crash-%d-%d-%d", cycle, w, i)
					open := &sent{path: "/v1/cases", key: "open-" + id,
						body: `{"id":"` + id + `","la":"E09000001","data":{"requester":"parent","birth_date":"2016-02-01"}}`}
					decide := &sent{path: "/v1/cases/" + id + "/commands/decide_to_assess", key: "decide-" + id, body: `{}`}
					for _, c := range []*sent{open, decide} {
						mu.Lock()
						byCase[id] = append(byCase[id], c)
						mu.Unlock()
						code, err := send(s.base, c)
						if err != nil {
							return // the server is gone
						}
						if code != 201 {
							t.Errorf("%s %s: %d", c.key, id, code)
							return
						}
						mu.Lock()
						c.acked = true
						mu.Unlock()
					}
				}
			}()
		}
		killAfter := time.Duration(200+rnd.IntN(1300)) * time.Millisecond
		time.Sleep(killAfter)
		if err := s.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = s.cmd.Wait() // killed: the error is expected
		close(stop)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}

		// Every acknowledged command is in the store, each case's versions
		// run from 1 without gaps, and nothing is there that was not sent.
		stored := storedVersions(t, db)
		inFlight := killedInFlight
		for id, cmds := range byCase {
			want := 0
			for i, c := range cmds {
				if c.acked {
					want = i + 1
				} else {
					killedInFlight++
				}
			}
			if got := stored[id]; got < want || got > len(cmds) {
				t.Fatalf("cycle %d: case %s: %d events stored, %d commands acknowledged of %d sent", cycle, id, got, want, len(cmds))
			}
		}
		logCycle := func(restarted, rebuilt time.Duration) {
			t.Logf("cycle %d: killed after %v with %d command(s) in flight; %d cases so far; restarted in %v, a fresh rebuild ready in %v",
				cycle, killAfter, killedInFlight-inFlight, len(byCase), restarted.Round(time.Millisecond), rebuilt.Round(time.Millisecond))
		}
		// The hash chains, the gapless log, and every checkpoint published.
		args := []string{"verify", "--db", db}
		if _, err := os.Stat(witness); err == nil {
			args = append(args, "--checkpoint", witness, "--pub", keys+".pub")
		}
		if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil || !strings.Contains(string(out), "every hash chain is intact") {
			t.Fatalf("cycle %d: verify after the kill: %v\n%s", cycle, err, out)
		}
		// A copy of the store rebuilt from scratch, against the restarted
		// server's views caught up from where the kill left them.
		fresh := filepath.Join(t.TempDir(), "fresh.db")
		for _, suffix := range []string{"", "-wal", ".keys", ".keys-wal"} {
			copyIfThere(t, db+suffix, fresh+suffix)
		}
		t0 := time.Now()
		s = start(db, flags...)
		restarted := time.Since(t0)
		t0 = time.Now()
		f := start(fresh, "--rate-limit", "0", "--auth-secret", testSecret)
		rebuilt := time.Since(t0)
		for _, path := range []string{"/v1/worklist?la=E09000001&status=running,overdue,met,late,ended&limit=10000", "/v1/stats?la=E09000001"} {
			got, want := s.must(200, "GET", path, ""), f.must(200, "GET", path, "")
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Fatalf("cycle %d: %s after the restart differs from a fresh rebuild\nrestarted: %.600s\nrebuilt:   %.600s", cycle, path, g, w)
			}
		}
		f.stop()
		logCycle(restarted, rebuilt)
	}
	commands := 0
	for _, cmds := range byCase {
		commands += len(cmds)
	}
	t.Logf("%d cycles: %d cases, %d commands, %d of them in flight at a kill and sent again", cycles, len(byCase), commands, killedInFlight)

	// The last retries, then each case exactly once, in the store and in
	// its history as the API serves it.
	for id, cmds := range byCase {
		for _, c := range cmds {
			if !c.acked {
				if code, err := send(s.base, c); err != nil || (code != 201 && code != 200) {
					t.Fatalf("retry of %s for %s: %d %v", c.key, id, code, err)
				}
			}
		}
	}
	stored := storedVersions(t, db)
	for id, cmds := range byCase {
		if stored[id] != len(cmds) {
			t.Errorf("case %s: %d events after retries, want exactly %d", id, stored[id], len(cmds))
		}
	}
	for id, cmds := range byCase {
		hist := s.must(200, "GET", "/v1/cases/"+id+"/history", "")
		if n := len(hist["history"].([]any)); n != len(cmds) {
			t.Errorf("case %s: the history shows %d events, the store %d", id, n, len(cmds))
		}
	}
}

// copyIfThere copies a file if it exists.
func copyIfThere(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
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
	t.Run("reads of cases, each recorded, fail none", func(t *testing.T) {
		out, err := exec.Command(binary, "loadtest", "--mode", "case", "--clients", "4", "--duration", "1s").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "case reads/s sustained") || !strings.Contains(string(out), "0 failed") {
			t.Fatalf("loadtest: %v\n%s", err, out)
		}
	})
}
