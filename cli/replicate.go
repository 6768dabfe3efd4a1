package cli

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"sync"
	"time"

	"github.com/ehcledger/ehcledger/backup"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/prometheus/client_golang/prometheus"
)

// replicateFlags are serve's settings for shipping committed events off
// the machine.
type replicateFlags struct {
	to    *string
	every *time.Duration
}

func addReplicateFlags(fs *flag.FlagSet) replicateFlags {
	return replicateFlags{
		to: fs.String("replicate-to", envOr("EHC_REPLICATE_TO", ""),
			"ship every committed event, within --replicate-every, to this location: s3://BUCKET/PREFIX (with the --s3-* flags) or a directory on another disk; "+
				"ehcledger restore --from it brings the store back"),
		every: fs.Duration("replicate-every", 5*time.Second, "how often committed events are shipped to --replicate-to (at most 1m)"),
	}
}

// replicator checks the flags and makes the replicator of store, reporting
// to logger and reg; nil without --replicate-to. Its run ships until ctx
// ends, and wg is done once the events committed by then are shipped.
func (f replicateFlags) replicator(store eventstore.Store, s3 s3Flags, reg *prometheus.Registry, logger *slog.Logger) (
	run func(ctx context.Context, wg *sync.WaitGroup), err error) {
	if *f.to == "" {
		return nil, nil
	}
	if *f.every <= 0 || *f.every > time.Minute {
		return nil, usageError("serve: --replicate-every must be more than 0 and at most 1m")
	}
	loc, err := backupLocation("--replicate-to", *f.to, s3)
	if err != nil {
		return nil, err
	}
	if g, ok := store.(eventstore.Gapless); !ok || !g.GaplessPositions() {
		return nil, usageError("serve: --replicate-to: " + backup.ErrGaps.Error())
	}
	r := &backup.Replicator{Store: store, To: loc, Every: *f.every, Now: time.Now}
	position := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ehcledger_replicated_position",
		Help: "The last position of the log shipped to --replicate-to."})
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ehcledger_replication_lag_seconds",
		Help: "How long the events committed most recently may have waited unshipped: the acknowledged time at risk; it grows while shipping fails."},
		func() float64 { return r.Lag().Seconds() })
	stopped := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ehcledger_replication_stopped",
		Help: "1 when replication has stopped for good (the location holds another history), else 0."},
		func() float64 {
			if r.Stopped() {
				return 1
			}
			return 0
		})
	failures := prometheus.NewCounter(prometheus.CounterOpts{Name: "ehcledger_replication_failures_total",
		Help: "Failed attempts to ship events to --replicate-to (each is retried)."})
	reg.MustRegister(position, lag, stopped, failures)
	r.OnShipped = func(s backup.Shipped) {
		position.Set(float64(s.Last))
		logger.Debug("replicated", "segment", s.Name, "bytes", s.Bytes, "lag", s.Lag.String())
	}
	r.OnError = func(err error) {
		failures.Inc()
		if errors.Is(err, backup.ErrOtherHistory) {
			logger.Error("REPLICATION STOPPED: "+err.Error(), "to", loc.String())
			return
		}
		logger.Error("replication failed; retrying", "to", loc.String(), "error", err)
	}
	return func(ctx context.Context, wg *sync.WaitGroup) {
		logger.Info("replicating committed events", "to", loc.String(), "every", f.every.String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				logger.Error("replication ended with events unshipped", "to", loc.String(), "error", err)
			}
		}()
	}, nil
}
