package tests

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/internal/s3test"
)

// TestRestoreDrill is the drill of docs/operations.md: a server under load
// replicates to object storage and is backed up there, its key store to
// object storage of its own; it is killed and its data directory deleted;
// the store restored from the object storage must hold every case
// acknowledged, once, pass verify, and give the figures it gave before the
// loss, and with its key store restored beside it, open their details.
func TestRestoreDrill(t *testing.T) {
	// The event store's copies and the key store's are kept apart, each
	// in object storage of its own, reached with flags of its own.
	offsite, keyVault := s3test.Start(t, "offsite"), s3test.Start(t, "keys")
	s3, keysS3, env := offsite.Flags(t, ""), keyVault.Flags(t, "keys-"), s3test.Env(t, offsite, keyVault)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(data, "events.db")
	const every = 500 * time.Millisecond
	s := startServerEnv(t, env, db, append([]string{"--auth-secret", testSecret, "--replicate-to", "s3://offsite/la", "--replicate-every", every.String(), "--rate-limit", "0"}, s3...)...)
	cw := "Bearer " + tokenAs(t, "cw-1", auth.Caseworker, "E09000001")

	stop := make(chan struct{})
	type loadResult struct {
		ids     []string
		refused int
	}
	load := make(chan loadResult)
	go func() { ids, refused := openCasesUntil(s, cw, "d", stop); load <- loadResult{ids, refused} }()
	// The lag is sampled while the load runs: the time at risk is then at
	// its longest.
	var maxLag float64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if v, ok := metricValue(s.base+"/metrics", "ehcledger_replication_lag_seconds"); ok {
				maxLag = max(maxLag, v)
			}
		}
	}()
	time.Sleep(time.Second)
	// A backup is taken under the load, into the same object storage.
	out, errOut, code := runExitEnv(t, env, append([]string{"backup", "--db", db, "--to", "s3://offsite/la"}, s3...)...)
	if code != 0 {
		t.Fatalf("backup: %d\n%s\n%s", code, out, errOut)
	}
	time.Sleep(time.Second)
	close(stop)
	res := <-load
	acknowledged, failures := res.ids, res.refused
	<-sampled
	statsURL := "/v1/stats?la=E09000001&from=2026-01-01&to=2026-12-31&as_of=2026-12-31"
	stats := s.must(200, "GET", statsURL, "")
	out, errOut, code = runExitEnv(t, env, append([]string{"backup", "keys", "--db", db, "--to", "s3://keys/la"}, keyVault.Flags(t, "")...)...)
	if code != 0 {
		t.Fatalf("backup keys: %d\n%s\n%s", code, out, errOut)
	}
	// Every acknowledged event is at risk for at most the replication's
	// lag: wait that long, read the lag measured, then pull the plug.
	time.Sleep(3 * every)
	shipped, ok := metricValue(s.base+"/metrics", "ehcledger_replicated_position")
	if !ok {
		t.Fatal("/metrics has no ehcledger_replicated_position")
	}
	if maxLag <= 0 || maxLag > 10 {
		t.Errorf("the longest replication lag measured under load is %.3fs: the target is at most 10 s", maxLag)
	}
	t.Logf("%d cases acknowledged under load, %d refused; longest replication lag %.3fs (shipping every %s)", len(acknowledged), failures, maxLag, every)
	if len(acknowledged) < 100 {
		t.Fatalf("only %d cases were acknowledged: the drill proves little", len(acknowledged))
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}

	// The bucket is checked on its own: the backup, and the chain of
	// segments after it up to where the replication had got to.
	out, errOut, code = runExitEnv(t, env, append([]string{"verify", "--backup", "s3://offsite/la"}, s3...)...)
	if code != 0 || !strings.Contains(out, " is intact") || !strings.Contains(out, fmt.Sprintf("chained up to position %.0f", shipped)) {
		t.Fatalf("verify --backup: %d\n%s\n%s", code, out, errOut)
	}
	restored := filepath.Join(dir, "restored", "events.db")
	start := time.Now()
	out, errOut, code = runExitEnv(t, env, append([]string{"restore", "--from", "s3://offsite/la", "--db", restored}, s3...)...)
	if code != 0 || !strings.Contains(out, "events from the segments after it") || strings.Contains(out, "WARNING: the segments end") {
		t.Fatalf("restore: %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("restored in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	// Everything shipped is back, once: the restored log ends where the
	// replication had got to, and verify finds no gap.
	if !strings.Contains(out, fmt.Sprintf(", to position %d:", int64(shipped))) {
		t.Fatalf("the restored store does not end at position %.0f, the last shipped:\n%s", shipped, out)
	}
	if out, errOut, code := runExit(t, "verify", "--db", restored); code != 0 || !strings.Contains(out, "every hash chain is intact") {
		t.Fatalf("verify of the restored store: %d\n%s\n%s", code, out, errOut)
	}
	// The key store was not replicated: a server refuses to start with a
	// new one unless told to, and the details then stay sealed.
	if out, errOut, code := runExit(t, "serve", "--db", restored, "--addr", "127.0.0.1:0", "--auth-secret", testSecret); code != 2 ||
		!strings.Contains(errOut, "--new-key-store") {
		t.Fatalf("serve over a restored store without its key store: %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(restored + ".keys"); !os.IsNotExist(err) {
		t.Fatalf("the refused server left a key store: %v", err)
	}
	bare := startServer(t, restored, "--rate-limit", "0", "--new-key-store")
	if p, _ := bare.must(200, "GET", "/v1/cases/"+acknowledged[0], "", "Authorization", cw)["person"].(map[string]any); p["unavailable"] != true || p["forename"] != nil {
		t.Fatalf("case %s on a new key store shows %v", acknowledged[0], p)
	}
	bare.stop()
	// Restored again, with the key store from its own object storage:
	// the server starts on it as it is, and the details open.
	withKeys := filepath.Join(dir, "with-keys", "events.db")
	out, errOut, code = runExitEnv(t, env, append(append([]string{"restore", "--from", "s3://offsite/la", "--keys-from", "s3://keys/la", "--db", withKeys}, s3...), keysS3...)...)
	if code != 0 || !strings.Contains(out, "restored the key store") {
		t.Fatalf("restore with the key store: %d\n%s\n%s", code, out, errOut)
	}
	s = startServer(t, withKeys, "--rate-limit", "0")
	defer s.stop()
	if p, _ := s.must(200, "GET", "/v1/cases/"+acknowledged[0], "", "Authorization", cw)["person"].(map[string]any); p["forename"] != "Name"+acknowledged[0] {
		t.Fatalf("the details of case %s after the restore with its keys: %v", acknowledged[0], p)
	}
	if got := s.must(200, "GET", statsURL, ""); !reflect.DeepEqual(got, stats) {
		t.Errorf("the figures after the restore differ:\n got %v\nwant %v", got, stats)
	}
	for _, id := range acknowledged {
		if status, _, _ := s.call("GET", "/v1/cases/"+id+"/timeline", "", "Authorization", cw); status != 200 {
			t.Fatalf("case %s was acknowledged and is not restored: %d", id, status)
		}
	}
}

// runExitEnv runs the binary with env, as runExit does.
func runExitEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// metricValue reads a gauge from a server's /metrics.
func metricValue(url, name string) (float64, bool) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false
	}
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	return v, err == nil
}
