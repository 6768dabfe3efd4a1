package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ehcledger/ehcledger/eventstore/storebench"
)

// BenchmarkDurableAppend measures durable single-event appends with 1, 8 and
// 64 concurrent writers; the events/s metric is the figure to compare.
func BenchmarkDurableAppend(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ResetTimer()
			r, err := storebench.Appends(context.Background(), s, writers, b.N, "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.PerSec, "events/s")
			b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
		})
	}
}
