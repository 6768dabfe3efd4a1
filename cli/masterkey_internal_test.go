package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestAMasterKeyCommandThatHangsIsStopped(t *testing.T) {
	defer func(d time.Duration) { keyCommandTimeout = d }(keyCommandTimeout)
	keyCommandTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err := masterFromCommand(context.Background(), "--master-key-command", "sleep 30")
	if err == nil || !strings.Contains(err.Error(), "--master-key-command: sleep did not finish within 200ms") {
		t.Fatalf("got %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("it waited %s for the command", took)
	}
}
