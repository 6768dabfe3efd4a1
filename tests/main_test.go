// Package tests holds end-to-end tests: they build the real ehcledger binary
// and drive it as a user would, through the command line and over HTTP.
package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binary is the ehcledger binary built for this test run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ehcledger-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ehcledger")
	// Every command the tests run takes the key store's master key from
	// the environment, as a server given it by a secret store would; the
	// tests of the demo and of the key's other sources set their own.
	os.Setenv("EHC_KEYS_MASTER_KEY", testMasterKey)
	build := exec.Command("go", "build", "-o", binary, "../cmd/ehcledger")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ehcledger:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
