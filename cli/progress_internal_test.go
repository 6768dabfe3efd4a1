package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/backup"
)

func TestProgressOffATerminalWritesALineAStageAndThenEveryInterval(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "restore")
	now := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	if p.tty {
		t.Fatal("a buffer taken for a terminal")
	}
	p.report(backup.Progress{Stage: "fetching b1", Total: 400 << 20, Unit: "bytes"})
	now = now.Add(5 * time.Second)
	p.report(backup.Progress{Stage: "fetching b1", Done: 100 << 20, Total: 400 << 20, Unit: "bytes"})
	now = now.Add(5 * time.Second)
	p.report(backup.Progress{Stage: "fetching b1", Done: 200 << 20, Total: 400 << 20, Unit: "bytes"})
	now = now.Add(time.Second)
	p.report(backup.Progress{Stage: "replaying the segments", Done: 10, Unit: "events"})
	p.close()
	want := "restore: fetching b1\n" +
		"restore: fetching b1: 200.0 MiB of 400.0 MiB (50%), 20.0 MiB/s, about 10s left\n" +
		"restore: replaying the segments\n"
	if got := out.String(); got != want {
		t.Fatalf("progress written:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(out.String(), "\r") {
		t.Fatal("a bar was drawn off a terminal")
	}
}
