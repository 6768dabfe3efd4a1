package projections_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/demo"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
)

// BenchmarkReplay measures rebuilding the timeliness projection from realistic
// case histories made through the domain: "from_memory" applies events already
// read, "from_store" also reads them from SQLite. The events/s metric is the
// figure to compare with the 300,000 events/s target.
func BenchmarkReplay(b *testing.B) {
	ctx := context.Background()
	env, err := cli.OpenEnv(ctx, filepath.Join(b.TempDir(), "events.db"), "", now, quiet())
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	if _, err := demo.Generate(ctx, env.Ledger, demo.Options{LA: "E09000001", Cases: 5000, Today: today, Seed: 3, Workers: 64}); err != nil {
		b.Fatal(err)
	}
	var all []eventstore.RecordedEvent
	for from := int64(1); ; {
		batch, err := env.Store.ReadAll(ctx, from, 10000)
		if err != nil {
			b.Fatal(err)
		}
		if len(batch) == 0 {
			break
		}
		all = append(all, batch...)
		from = batch[len(batch)-1].Position + 1
	}
	h := calendar.NewEnglandWales()
	b.Run("from_memory", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := projections.NewTimeliness(h).Apply(all); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(all)*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("from_store", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			t := projections.NewTimeliness(h)
			if err := projections.ReadBatches(ctx, env.Store, 1, 10000, t.Apply); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(all)*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
