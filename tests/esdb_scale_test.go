package tests

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
)

// TestAStoreOfOver100000EventsMigratedToKurrentDBAnswersAsSQLite: five LAs
// over two years (over 110,000 events) are migrated into the KurrentDB
// stand-in and verified there; a server on each store then answers the
// national and every LA's statistics, worklist and SEN2 return alike.
func TestAStoreOfOver100000EventsMigratedToKurrentDBAnswersAsSQLite(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "src.db")
	if out, _, code := runExit(t, "simulate", "--db", db, "--las", "5", "--cases", "1000", "--years", "2", "--seed", "7", "--until", "2026-11-30"); code != 0 {
		t.Fatalf("simulate: %s", out)
	}
	srv := fakeserver.StartTest(t)
	out, stderr, code := runExit(t, "migrate", "--from", "sqlite:"+db, "--to", srv.ConnectionString())
	m := regexp.MustCompile(`copied (\d+) events \(0 already in the target\)`).FindStringSubmatch(out)
	if code != 0 || m == nil || len(m[1]) < 6 || !strings.Contains(out, "verified") {
		t.Fatalf("migrate exited %d:\n%s%s", code, out, stderr)
	}
	if out, _, code := runExit(t, "verify", "--store", srv.ConnectionString()); code != 0 || !strings.Contains(out, "every hash chain is intact") {
		t.Fatalf("verify --store esdb exited %d:\n%s", code, out)
	}

	las := []string{"E09000001", "E09000002", "E09000003", "E09000004", "E09000005"}
	inspector := tokenAs(t, "inspector-1", auth.Inspector, las...)
	// figures reads what a server answers, the SEN2 return's generation
	// time aside.
	dateTime := regexp.MustCompile(`<DateTime>[^<]*</DateTime>`)
	figures := func(s *server) map[string]string {
		t.Helper()
		got := map[string]string{}
		read := func(path, token string) {
			t.Helper()
			code, body := getAs(t, s.base+path, token)
			if code != 200 || len(body) < 100 {
				t.Fatalf("%s: %d %.300s", path, code, body)
			}
			got[path] = dateTime.ReplaceAllString(body, "")
		}
		read("/v1/stats", inspector)
		for _, la := range las {
			manager := tokenAs(t, "manager-"+la, auth.Manager, la)
			read("/v1/stats?la="+la, manager)
			read("/v1/worklist?la="+la+"&status=running,overdue,met,late,ended&limit=10000", manager)
			read("/v1/las/"+la+"/sen2?year=2026", manager)
		}
		return got
	}
	s := startServerWithin(t, time.Minute, nil, db, "--auth-secret", testSecret)
	want := figures(s)
	s.stop()
	e := startServerWithin(t, time.Minute, nil, "", "--auth-secret", testSecret, "--store", srv.ConnectionString(),
		"--views", filepath.Join(dir, "esdb.views"), "--keys", db+".keys")
	got := figures(e)
	e.stop()
	for path, body := range want {
		if got[path] != body {
			t.Errorf("%s differs between SQLite and KurrentDB:\n%s", path, firstDifference(body, got[path]))
		}
	}
}

// firstDifference shows where two answers part.
func firstDifference(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(i-80, 0)
	return fmt.Sprintf("sqlite: …%.200s\nesdb:   …%.200s", a[from:], b[from:])
}
