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

// start runs the replicator beside the server, reporting to logger and
// reg, until ctx ends; wg is done once the events committed by then are
// shipped. Nothing is started without --replicate-to.
func (f replicateFlags) start(ctx context.Context, store eventstore.Store, s3 s3Flags, reg *prometheus.Registry, logger *slog.Logger, wg *sync.WaitGroup) error {
	if *f.to == "" {
		return nil
	}
	if *f.every <= 0 || *f.every > time.Minute {
		return usageError("serve: --replicate-every must be more than 0 and at most 1m")
	}
	loc, err := backupLocation("--replicate-to", *f.to, s3)
	if err != nil {
		return err
	}
	position := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ehcledger_replicated_position",
		Help: "The last position of the log shipped to --replicate-to."})
	lag := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ehcledger_replication_lag_seconds",
		Help: "How long the oldest event of the last segment shipped had been committed: the acknowledged time at risk."})
	failures := prometheus.NewCounter(prometheus.CounterOpts{Name: "ehcledger_replication_failures_total",
		Help: "Failed attempts to ship events to --replicate-to (each is retried)."})
	reg.MustRegister(position, lag, failures)
	r := &backup.Replicator{Store: store, To: loc, Every: *f.every, Now: time.Now,
		OnShipped: func(s backup.Shipped) {
			position.Set(float64(s.Last))
			lag.Set(s.Lag.Seconds())
			logger.Debug("replicated", "segment", s.Name, "bytes", s.Bytes, "lag", s.Lag.String())
		},
		OnError: func(err error) {
			failures.Inc()
			if errors.Is(err, backup.ErrOtherHistory) {
				logger.Error("REPLICATION STOPPED: "+err.Error(), "to", loc.String())
				return
			}
			logger.Error("replication failed; retrying", "to", loc.String(), "error", err)
		}}
	logger.Info("replicating committed events", "to", loc.String(), "every", f.every.String())
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = r.Run(ctx)
	}()
	return nil
}
