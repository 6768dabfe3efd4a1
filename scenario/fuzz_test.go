package scenario_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/scenario"
)

// FuzzScenarioFile reads arbitrary bytes as a scenario file. Nothing may
// panic; a file refused is refused with an invalid error naming the field;
// and a file accepted runs through the real domain and store, where a
// refused step is reported (never an internal error).
func FuzzScenarioFile(f *testing.F) {
	for _, pattern := range []string{"../../shared/scenarios/public/*.json", "../tests/scenarios/*.json"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"la":"E09000001","steps":[{"case":"c","command":"receive_request","on":"2024-01-01","data":{"requester":"parent","birth_date":"2015-01-01"}}]}`))
	f.Add([]byte(`{"la":"E09000001","steps":[{"case":"c","command":"receive_request","on":"2024-01-01","at":"2024-01-01T10:00:00Z"}]}`))
	f.Add([]byte(`{"la":"","steps":[]}`))
	f.Add([]byte(`{"rulebook":"nope","la":"E1","steps":[{}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := scenario.Parse(b)
		if err != nil {
			if domain.ErrorCode(err) != domain.Invalid || domain.ErrorMessage(err) == "" {
				t.Fatalf("refused without an invalid error naming why: %v", err)
			}
			return
		}
		if len(file.Steps) > 200 {
			return // long files add time, not new paths
		}
		ctx := context.Background()
		env, err := cli.OpenEnv(ctx, filepath.Join(t.TempDir(), "events.db"), "", time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer env.Close()
		if _, err := (&scenario.Runner{Ledger: env.Ledger, Views: env.Runner}).Run(ctx, file, 0); err != nil && domain.ErrorCode(err) == domain.Internal {
			t.Fatalf("an accepted file failed with an internal error: %v", err)
		}
	})
}
