// Package kurrent checks the in-process KurrentDB stand-in with a client
// that is not the project's: the official Node client, which appends over
// gRPC and reads through its Rust bridge, and which fails on answers the
// server never gives (a batch-append error without its status detail made
// it throw). It runs beside the end-to-end tests, as a package of its own,
// because one of its checks keeps a subscription quiet for over a minute.
package kurrent

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
)

// quietSeconds is how long the check's subscription waits without
// traffic: past six of the client's keep-alive pings, every 10 s.
const quietSeconds = "65"

// checks are the names check.mjs prints, each after "ok " when it passes.
var checks = []string{
	"appends with expected revisions",
	"a retried append is written once",
	"$all pages by the positions it returns",
	"a position inside an event is refused",
	"an append above the maximum size is refused",
	"deletes honour expected revisions",
	"a tombstoned stream is refused for good",
	"a subscription quiet for " + quietSeconds + " s still delivers",
}

func TestTheOfficialNodeClientAgainstTheStandIn(t *testing.T) {
	modules, err := filepath.Abs("../../.build/npm-kurrent/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(modules, ".installed")); err != nil {
		t.Skip("the KurrentDB Node client is not installed (make kurrent-node, which needs npm)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	srv := fakeserver.StartTest(t)
	// ES modules are resolved beside the script, not from the working
	// directory: run a copy beside the installed modules.
	dir := t.TempDir()
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("check.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "check.mjs"), script, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "check.mjs", srv.Addr(), quietSeconds)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	lines := strings.Split(out.String(), "\n")
	for _, name := range checks {
		t.Run(name, func(t *testing.T) {
			for _, l := range lines {
				if l == "ok "+name {
					return
				}
				if strings.HasPrefix(l, "FAIL "+name+":") {
					t.Fatal(strings.TrimPrefix(l, "FAIL "))
				}
			}
			t.Fatalf("the check did not run:\n%s", out.String())
		})
	}
	if runErr != nil {
		t.Fatalf("node check.mjs: %v\n%s", runErr, out.String())
	}
}
