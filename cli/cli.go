package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ehcledger/ehcledger/api"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/documents"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/notify"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/scenario"
	"github.com/ehcledger/ehcledger/simulate"
	"github.com/ehcledger/ehcledger/sqlitedb"
	"github.com/ehcledger/ehcledger/tlog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const usage = `ehcledger: event-sourced case tracking for EHC needs assessments

Usage:
  ehcledger serve    [--db PATH | --store SPEC] [--views PATH] [--keys PATH] [--addr ADDR] [--metrics-addr ADDR] [--demo]
                     [--master-key-file F | --master-key-command CMD]
                     [--auth-jwks-url URL | --auth-jwks FILE | --auth-secret S | --auth-secret-file F]
                     [--auth-issuer ISS] [--auth-audience AUD] [--auth-max-token-lifetime 12h]
                     [--oidc-issuer URL --oidc-client-id ID --oidc-client-secret-file F --oidc-redirect-url URL
                      --oidc-roles FILE [--oidc-scopes "openid profile"]]
                     [--session-max-age 8h] [--session-idle 1h] [--max-sessions 10000]
                     [--checkpoint-key PREFIX.key [--checkpoint-every 1m] [--witness FILE|URL]...]
                     [--snapshot-every 250000] [--snapshot-interval 5m]
                     [--replicate-to DIR|s3://BUCKET/PREFIX [--replicate-every 5s]]
  ehcledger loadtest [--clients 16] [--duration 10s]
  ehcledger token    --role ROLE --las LA[,LA...|*] (--auth-secret S | --auth-secret-file F) [--ttl 8h]
                     (every LA, *, for admins only; --ttl at most --auth-max-token-lifetime)
  ehcledger migrate  --from sqlite:PATH --to esdb://... [--workers 16]
  ehcledger verify   [--db PATH | --store SPEC] [--views PATH] [--checkpoint FILE --pub PREFIX.pub]
  ehcledger verify   --backup DIR|s3://BUCKET/PREFIX [--id ID | --all] [--pub PREFIX.pub]
  ehcledger backup   [--db PATH] [--views PATH] --to DIR|s3://BUCKET/PREFIX [--tmp DIR]
  ehcledger backup keys [--db PATH | --keys PATH] --to DIR|s3://BUCKET/PREFIX   (apart from the event store's)
  ehcledger restore  --from DIR|s3://... [--id ID] [--until POSITION|RFC3339] --db NEWPATH [--views PATH] [--pub PREFIX.pub]
                     [--keys-from DIR|s3://... [--keys-id ID] [--keys PATH] (--master-key-file F | --master-key-command CMD)]
                     (s3://: --s3-endpoint HOST:PORT --s3-access-key ID --s3-secret-key-file F;
                      for --keys-from, --keys-s3-endpoint, --keys-s3-access-key, --keys-s3-secret-key-file)
  ehcledger checkpoint keygen --origin NAME --out PREFIX
  ehcledger checkpoint sign [--db PATH | --store SPEC] --key PREFIX.key
  ehcledger verify-case --case ID --proof FILE --checkpoint FILE --pub PREFIX.pub
  ehcledger export   case [--db PATH] [--keys PATH] [--master-key-file F | --master-key-command CMD] [--format json|csv] CASE
  ehcledger export   sen2 [--db PATH] [--keys PATH] [--master-key-file F | --master-key-command CMD] --year YYYY --la LA
                     [--format xml|csv] [--serial N]   (exits 1 after writing while the return has failures)
  ehcledger sen2     validate FILE
  ehcledger import   sen2 FILE --la LA [--db PATH] [--keys PATH] [--master-key-file F | --master-key-command CMD]
  ehcledger simulate [--db PATH] [--keys PATH] [--master-key-file F | --master-key-command CMD | --demo]
                     --las N --cases M --years Y --seed S [--until DATE]
  ehcledger keys     rotate [--db PATH] [--keys PATH] [--master-key-file F | --master-key-command CMD]
                     (--new-master-key-file F | --new-master-key-command CMD)
  ehcledger scenario run FILE [--as-of YYYY-MM-DD]
  ehcledger rebuild  [--db PATH] [--views PATH]
  ehcledger case     [--db PATH] [--keys PATH] [--master-key-file F | --master-key-command CMD]
                     [--as-of YYYY-MM-DD] [--known-at RFC3339] CASE
  ehcledger rulebook changes [--db PATH | --store SPEC] --la LA [--rulebook ID] [--version N]
                     [--as-of DATE] [--from DATE] [--to DATE] [--format json|table]
  ehcledger whatif   [--db PATH | --store SPEC] --la LA --rulebook ID [--as-of DATE] [--from DATE] [--to DATE]
                     [--clocks] [--format json|table]
  ehcledger bench    [--dir DIR] [--events N] [--cases N]
  ehcledger bench    --replication SCRATCH.db [--replicate-to DIR] [--replication-rate 500] [--replication-for 1m] [--replicate-every 5s]

SPEC is sqlite:PATH or an EventStoreDB/KurrentDB connection string
(esdb://host:2113?tls=false, esdb+discover://...).
Environment: EHC_DB (default database path), EHC_STORE (default --store),
EHC_ADDR (default listen address), EHC_AUTH_JWKS_URL, EHC_AUTH_JWKS, EHC_AUTH_SECRET,
EHC_AUTH_SECRET_FILE, EHC_AUTH_ISSUER, EHC_AUTH_AUDIENCE, EHC_AUTH_MAX_TOKEN_LIFETIME (token settings),
EHC_OIDC_ISSUER, EHC_OIDC_CLIENT_ID, EHC_OIDC_CLIENT_SECRET_FILE, EHC_OIDC_REDIRECT_URL, EHC_OIDC_SCOPES,
EHC_OIDC_ROLES (signing in to the pages), EHC_SESSION_MAX_AGE, EHC_SESSION_IDLE, EHC_MAX_SESSIONS,
EHC_KEYS (the case-key store), EHC_KEYS_MASTER_KEY_FILE, EHC_KEYS_MASTER_KEY_COMMAND
and EHC_KEYS_MASTER_KEY (its master key: a file, a command printing it, or the key).
Without --demo, the master key must come from outside the data directory: a
command that opens the case keys refuses to start without one.
`

// DemoLA is the code of the demo LA that `serve --demo` simulates.
const DemoLA = "E09999999"

// Main runs the command line and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "scenario":
		if len(args) < 2 || args[1] != "run" {
			err = usageError("scenario: the only subcommand is run: ehcledger scenario run FILE [--as-of DATE]")
		} else {
			return scenarioRun(ctx, args[2:], stdout, stderr)
		}
	case "rebuild":
		err = rebuild(ctx, args[1:], stdout, stderr)
	case "case":
		err = showCase(ctx, args[1:], stdout)
	case "migrate":
		err = migrate(ctx, args[1:], stdout, stderr)
	case "verify":
		err = verify(ctx, args[1:], stdout, stderr)
	case "backup":
		err = backupCmd(ctx, args[1:], stdout, stderr)
	case "restore":
		err = restoreCmd(ctx, args[1:], stdout, stderr)
	case "verify-case":
		err = verifyCase(args[1:], stdout)
	case "sen2":
		err = sen2Command(args[1:], stdout)
	case "import":
		err = importCmd(ctx, args[1:], stdout, stderr)
	case "checkpoint":
		err = checkpointCmd(ctx, args[1:], stdout)
	case "export":
		err = export(ctx, args[1:], stdout)
	case "simulate":
		err = simulateCmd(ctx, args[1:], stdout, stderr)
	case "loadtest":
		err = loadtest(ctx, args[1:], stdout)
	case "token":
		err = token(args[1:], stdout)
	case "bench":
		err = bench(ctx, args[1:], stdout)
	case "rulebook":
		err = rulebookCmd(ctx, args[1:], stdout)
	case "whatif":
		err = whatIf(ctx, args[1:], stdout)
	case "keys":
		err = keysCmd(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError(fmt.Sprintf("unknown command %q", args[0]))
	}
	if err != nil {
		fmt.Fprintln(stderr, "ehcledger:", err)
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return 1
	}
	return 0
}

type usageError string

func (u usageError) Error() string { return string(u) }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError(fs.Name() + ": " + err.Error())
	}
	return nil
}

// envNumber reads a number from the environment, def when unset; a value
// that is not a number is an error naming the variable.
func envNumber(name string, def float64) (float64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return def, usageError(fmt.Sprintf("%s: %q is not a number", name, v))
	}
	return f, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func jsonLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve")
	db := fs.String("db", envOr("EHC_DB", "ehcledger.db"), "event database file (the embedded store)")
	store := fs.String("store", envOr("EHC_STORE", ""), "event store: sqlite:PATH, esdb://HOST:PORT?... or esdb+discover://... (default: --db)")
	views := fs.String("views", "", "read-model database file (default: DB.views)")
	addr := fs.String("addr", envOr("EHC_ADDR", "127.0.0.1:8080"), "listen address (port 0 picks a free port)")
	metricsAddr := fs.String("metrics-addr", envOr("EHC_METRICS_ADDR", ""), "serve /metrics on this address only, not on --addr (so it need not face the internet)")
	kf := addKeyFlags(fs)
	seed := fs.Bool("demo", false, "seed a demo LA when the database is empty; unless tokens are verified otherwise, sign development tokens with the secret in DB.dev-secret, "+
		"beside the views (made if missing, mode 0600); unless a master key is given, keep a development one in KEYS.master")
	af := addAuthFlags(fs)
	of := addOIDCFlags(fs)
	pf := addPortalFlags(fs)
	cf := addCheckpointFlags(fs)
	rf := addReplicateFlags(fs)
	newKeyStore := fs.Bool("new-key-store", false, "start with a new, empty key store although the event store holds cases (their personal details then stay sealed): after a restore without the key store's backup")
	snapshotEvery := fs.Int64("snapshot-every", 250000, "save the timeliness snapshot after this many events applied, once --snapshot-interval has passed too")
	snapshotInterval := fs.Duration("snapshot-interval", 5*time.Minute, "the least time between two timeliness snapshots")
	defRate, errRate := envNumber("EHC_RATE_LIMIT", 50)
	defBurst, errBurst := envNumber("EHC_RATE_BURST", 100)
	rateLimit := fs.Float64("rate-limit", defRate, "requests a second each token may send on average (0: no limit; env EHC_RATE_LIMIT)")
	rateBurst := fs.Int("rate-burst", int(defBurst), "requests a token may send at once (env EHC_RATE_BURST)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := errors.Join(errRate, errBurst); err != nil {
		return err
	}
	if *snapshotEvery < 1 || *snapshotInterval < 0 {
		return usageError("serve: --snapshot-every must be at least 1 and --snapshot-interval not negative")
	}
	if *rateLimit < 0 || *rateBurst < 1 {
		return usageError("serve: --rate-limit must be 0 or more and --rate-burst at least 1")
	}
	ss, err := storeOf(*db, *store)
	if err != nil {
		return err
	}
	viewsPath := *views
	if viewsPath == "" {
		viewsPath = ss.DefaultViews()
	}
	devSecretFile := ""
	if *seed {
		devSecretFile = DevSecretPath(viewsPath)
	}
	verifier, devSecret, err := af.verifier(ctx, devSecretFile)
	if err != nil {
		return err
	}
	sessions, err := of.sessions()
	if err != nil {
		return err
	}
	provider, secureCookies, err := of.provider(ctx)
	if err != nil {
		return err
	}
	keysPath := kf.path(viewsPath)
	master, devMaster, err := kf.master(ctx, "serve", dataFiles(ss, viewsPath, keysPath), keysPath, *seed)
	if err != nil {
		return err
	}
	logger := jsonLogger(stderr)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	_, statErr := os.Stat(keysPath)
	env, err := openEnv(ctx, ss, viewsPath, keysAt{path: keysPath, master: master}, time.Now, logger)
	if err != nil {
		return storeError(storeFlagOf(*store), err)
	}
	if errors.Is(statErr, os.ErrNotExist) && !*newKeyStore && !*seed {
		if err := refuseNewKeyStore(ctx, env, keysPath); err != nil {
			return err
		}
	}
	defer env.Close()
	env.Runner.SnapshotEvery, env.Runner.SnapshotInterval = *snapshotEvery, *snapshotInterval
	if devMaster {
		logger.Warn("DEVELOPMENT SETTING: the key store's master key is kept beside it, so a backup of this directory opens every case in it, "+
			"erased ones included; give one from outside with --master-key-file, --master-key-command or "+MasterKeyEnv, "master_key_file", keysPath+".master")
	}
	if env.Ledger.Notifier, err = pf.notifier(logger, *seed); err != nil {
		return err
	}
	if env.Ledger.InvitationTTL, err = pf.ttl(); err != nil {
		return err
	}
	var sealer documents.Sealer
	if env.Keys != nil {
		sealer = env.Keys
	}
	docs, err := pf.documents(sealer, viewsPath+".documents", *seed, logger)
	if err != nil {
		return err
	}
	if docs != nil {
		env.Ledger.Documents = docs
	}
	publisher, checkpointKey, err := cf.publisher(env.Runner.Tree)
	if err != nil {
		return err
	}
	if publisher != nil && len(cf.witnesses) == 0 {
		logger.Warn("checkpoints are signed but given to no witness: kept only beside the views, they prove little against whoever runs this server; add --witness")
	}
	for _, w := range cf.witnesses {
		if strings.HasPrefix(w, "http://") {
			logger.Warn("a witness reached over plain HTTP: a network attacker can drop or answer for it", "witness", w)
		}
	}
	replicate, err := rf.replicator(env.Store, pf.s3, reg, logger)
	if err != nil {
		return err
	}
	metrics := api.NewMetrics(reg, env.Store, env.Runner)
	// Commands go through the instrumented store so append latency is seen.
	env.Ledger.Store = metrics.Instrument(env.Store)
	if *seed {
		if head, _ := env.Store.Head(ctx); head == 0 {
			res, err := simulate.Run(ctx, env.Store, simulate.Options{LAs: 1, LACodes: []string{DemoLA}, CasesPerYear: 40, Years: 2,
				Seed: 2014, Until: domain.DateOf(time.Now()), Rates: simulate.National, Keys: env.Keys}, nil)
			if err != nil {
				return fmt.Errorf("demo data: %w", err)
			}
			logger.Info("seeded demo LA with the simulator", "la", DemoLA, "cases", res.Cases, "events", res.Events)
		}
	}
	// The server listens at once, so that probes see it alive (/healthz)
	// while the projections catch up, which takes minutes on a national
	// store; /readyz and every view answer 503 until they have.
	ready := make(chan struct{})
	runCtx, cancelRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	var background sync.WaitGroup // the checkpoint publisher and the replicator
	go func() {
		defer close(runDone)
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 30*time.Second) {
			// The rules this build counts under are recorded first, once
			// per revision however many servers start on the store.
			revised, err := recordRevisions(runCtx, env)
			for _, r := range revised {
				logger.Info("recorded a rulebook revision", "rulebook", r.Rulebook, "version", r.Version,
					"previous_version", r.PreviousVersion, "content_hash", r.ContentHash)
			}
			var n int64
			if err == nil {
				n, err = env.Runner.CatchUp(runCtx)
			}
			if err == nil {
				env.Runner.Timeliness.Warm()
				logger.Info("projections caught up", "events", n, "position", env.Runner.Position(),
					"cases_counted_again_under_changed_rulebooks", env.Runner.Recomputed)
				break
			}
			if runCtx.Err() != nil {
				return
			}
			logger.Error("projections could not catch up; retrying", "error", err, "in", backoff.String())
			select {
			case <-runCtx.Done():
				return
			case <-time.After(backoff):
			}
		}
		close(ready)
		if publisher != nil {
			// Signed only once caught up: a checkpoint signs the whole log.
			background.Add(1)
			go func() {
				defer background.Done()
				publisher.Run(runCtx, *cf.every, func(err error) {
					if errors.Is(err, tlog.ErrRewritten) {
						logger.Error("CHECKPOINTS STOPPED: "+err.Error(), "error", err)
						return
					}
					logger.Error("checkpoint", "error", err)
				})
			}()
		}
		follow(runCtx, env, logger)
	}()

	srv := newAPIServer(env, reg, metrics, logger, verifier, api.RateLimit{Rate: *rateLimit, Burst: *rateBurst}, func() bool {
		select {
		case <-ready:
			return true
		default:
			return false
		}
	})
	srv.OIDC, srv.Sessions, srv.SecureCookies = provider, sessions, secureCookies
	srv.CheckpointKey = checkpointKey
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		cancelRun()
		return fmt.Errorf("--addr: %w", err)
	}
	env.Ledger.PortalURL = *pf.portalURL
	if env.Ledger.PortalURL == "" && *seed {
		env.Ledger.PortalURL = "http://" + ln.Addr().String()
	}
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			cancelRun()
			ln.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		srv.MetricsElsewhere = true
		ms := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second}
		go func() { _ = ms.Serve(mln) }()
		defer ms.Close()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", mln.Addr())
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: writeTimeout, IdleTimeout: 120 * time.Second}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	if *seed && len(devSecret) > 0 && *af.secret == "" && *af.secretFile == "" {
		if err := printDevTokens(stdout, devSecret, devSecretFile, DemoLA, verifier.MaxLifetime()); err != nil {
			cancelRun()
			return err
		}
	}
	if f, ok := stdout.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
	if replicate != nil {
		// Started last: every return from here waits for it to ship what
		// was committed.
		replicate(runCtx, &background)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		cancelRun()
		<-runDone
		background.Wait()
		return err
	}
	// Drain requests in flight, then stop following the store.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdownCtx)
	cancelRun()
	<-runDone
	background.Wait()
	logger.Info("stopped")
	return err
}

// refuseNewKeyStore stops a server whose key store was just made while
// its event store already holds cases: a wrong --keys, or a restore that
// left the key store behind. Every case's details would read as sealed
// and new ones would be sealed in the wrong file. On a refusal, or when it
// cannot tell, it closes env and removes the new key store, so that the
// next start asks again.
func refuseNewKeyStore(ctx context.Context, env *Env, keysPath string) error {
	stop := errors.New("a case")
	err := projections.ReadBatches(ctx, env.Store, 1, 5000, func(batch []eventstore.RecordedEvent) error {
		for _, e := range batch {
			if _, ok := domain.CaseIDOf(e.Stream); ok {
				return stop
			}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	env.Close()
	for _, p := range []string{keysPath, keysPath + "-wal", keysPath + "-shm", sqlitedb.LockPath(keysPath)} {
		os.Remove(p)
	}
	if !errors.Is(err, stop) {
		return err
	}
	return usageError("serve: there was no key store at " + keysPath + ", but the event store holds cases, whose personal details are sealed " +
		"with keys: give the right --keys; after a restore, restore the key store too (ehcledger restore --keys-from); " +
		"to go on without those details, start with --new-key-store")
}

// writeTimeout bounds the writing of an HTTP response; requestBudget, what
// a request may spend before it must be answered (a 503 while the event
// store does not answer), leaves time to write the answer, and for one
// call to the event store that was already waiting on the KurrentDB
// client's discovery (at most 6 s a seed, see esdb.boundDiscovery).
const (
	writeTimeout  = 60 * time.Second
	requestBudget = 40 * time.Second
)

// newAPIServer wires the HTTP interface to an opened environment.
func newAPIServer(env *Env, reg *prometheus.Registry, metrics *api.Metrics, logger *slog.Logger, verifier *auth.Verifier,
	rl api.RateLimit, ready func() bool) *api.Server {
	return &api.Server{Ledger: env.Ledger, Views: env.Runner, Store: env.Store, Now: time.Now, Logger: logger,
		Registry: reg, Metrics: metrics, Auth: verifier, RateLimit: rl, Ready: ready, RequestBudget: requestBudget}
}

// follow keeps the projections following the store until ctx ends. When the
// store drops the subscription (a restart, a network fault) it logs the error
// and subscribes again from the checkpoint, backing off up to 30 seconds.
func follow(ctx context.Context, env *Env, logger *slog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := env.Runner.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		logger.Error("projections stopped following the store; retrying", "error", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func scenarioRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// FILE may come before or after the flags.
	var file string
	var rest []string
	for _, a := range args {
		if file == "" && !strings.HasPrefix(a, "-") && (len(rest) == 0 || !strings.HasPrefix(rest[len(rest)-1], "--as-of") || strings.Contains(rest[len(rest)-1], "=")) {
			file = a
			continue
		}
		rest = append(rest, a)
	}
	fs := newFlags("scenario run")
	asOfFlag := fs.String("as-of", "", "report the clocks on this date (YYYY-MM-DD)")
	if err := fs.Parse(rest); err != nil || file == "" || fs.NArg() > 0 {
		writeProblem(stderr, "usage", "usage: ehcledger scenario run FILE [--as-of YYYY-MM-DD]", -1)
		return 2
	}
	var asOf domain.Date
	if *asOfFlag != "" {
		d, err := domain.ParseDate(*asOfFlag)
		if err != nil {
			writeProblem(stderr, "invalid", "--as-of: "+err.Error(), -1)
			return 2
		}
		asOf = d
	}
	b, err := os.ReadFile(file)
	if err != nil {
		writeProblem(stderr, "invalid", "cannot read the scenario: "+err.Error(), -1)
		return 1
	}
	f, err := scenario.Parse(b)
	if err != nil {
		writeProblem(stderr, string(domain.ErrorCode(err)), domain.ErrorMessage(err), -1)
		return 1
	}
	dir, err := os.MkdirTemp("", "ehcledger-scenario-")
	if err != nil {
		writeProblem(stderr, "internal", err.Error(), -1)
		return 1
	}
	defer os.RemoveAll(dir)
	env, err := OpenEnv(ctx, filepath.Join(dir, "events.db"), "", time.Now, jsonLogger(io.Discard))
	if err != nil {
		writeProblem(stderr, "internal", err.Error(), -1)
		return 1
	}
	defer env.Close()
	// A scenario replays invitations already sent: nobody is written to.
	env.Ledger.Notifier, env.Ledger.PortalURL = notify.Discard{}, "https://scenario.invalid"
	out, err := (&scenario.Runner{Ledger: env.Ledger, Views: env.Runner}).Run(ctx, f, asOf)
	if err != nil {
		var se *scenario.StepError
		if errors.As(err, &se) {
			writeProblem(stderr, string(domain.ErrorCode(se.Err)), se.Error(), se.Index)
		} else {
			writeProblem(stderr, string(domain.ErrorCode(err)), domain.ErrorMessage(err), -1)
		}
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return 1
	}
	return 0
}

// writeProblem prints a problem on stderr as one JSON object; step is the
// rejected step's index, or -1.
func writeProblem(w io.Writer, code, detail string, step int) {
	p := map[string]any{"type": "https://ehcledger.example/problems/" + code, "title": "scenario failed", "code": code, "detail": detail}
	if step >= 0 {
		p["title"] = fmt.Sprintf("step %d was rejected", step)
		p["step"] = step
	}
	b, _ := json.Marshal(p)
	fmt.Fprintln(w, string(b))
}

func rebuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rebuild")
	db := fs.String("db", envOr("EHC_DB", "ehcledger.db"), "event database file")
	views := fs.String("views", "", "read-model database file (default: DB.views)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ss, err := existingStore(*db, "")
	if err != nil {
		return err
	}
	// Rebuilding reads no personal data: the case keys stay shut.
	env, err := openEnv(ctx, ss, *views, keysAt{}, time.Now, jsonLogger(io.Discard))
	if err != nil {
		return storeError("--db", err)
	}
	closed := false
	defer func() {
		if !closed {
			env.Close()
		}
	}()
	revised, err := recordRevisions(ctx, env)
	if err != nil {
		return err
	}
	for _, r := range revised {
		before := "the first recorded"
		if r.PreviousHash != "" {
			before = fmt.Sprintf("version %d was recorded before it", r.PreviousVersion)
		}
		fmt.Fprintf(stdout, "recorded rulebook %s version %d (%s)\n", r.Rulebook, r.Version, before)
	}
	n, el, err := progressedRebuild(ctx, env, newProgress(stderr, "rebuild"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt projections from %d events in %.3fs (%.0f events/s)\n", n, el.Seconds(), float64(n)/el.Seconds())
	// The snapshot of the rebuilt model is written in the background: a
	// rebuild whose snapshot cannot be written has not finished.
	closed = true
	if err := env.Close(); err != nil {
		return fmt.Errorf("after the rebuild, saving the snapshot and closing: %w", err)
	}
	return nil
}

// revisionActor is the actor of the rulebook revisions a start records.
const revisionActor = "system:ehcledger"

// recordRevisions records the revisions of this build's rulebooks that the
// store has not recorded, before anything is counted under them, and
// returns them. A store that cannot record them is neither served nor
// rebuilt: its figures would be counted under rules it holds no record of.
func recordRevisions(ctx context.Context, env *Env) ([]domain.RulebookRevised, error) {
	revised, err := env.Ledger.RecordRulebookRevisions(ctx, revisionActor)
	var de *domain.Error
	switch {
	case errors.As(err, &de) && de.Err != nil:
		// For the operator's log and terminal: the cause too.
		return nil, fmt.Errorf("recording the rulebook revisions: %s: %w", de.Message, de.Err)
	case err != nil:
		return nil, fmt.Errorf("recording the rulebook revisions: %w", err)
	}
	return revised, nil
}

// timedRebuild rebuilds every projection from scratch and says how long it took.
// progressedRebuild is timedRebuild, showing how far it has got on p.
func progressedRebuild(ctx context.Context, env *Env, p *progress) (int64, time.Duration, error) {
	head, err := env.Store.Head(ctx)
	if err != nil {
		return 0, 0, err
	}
	stop := p.poll("rebuilding the views", "events", func() (int64, int64) { return env.Runner.Position(), head })
	defer stop()
	return timedRebuild(ctx, env)
}

func timedRebuild(ctx context.Context, env *Env) (int64, time.Duration, error) {
	start := time.Now()
	n, err := env.Runner.Rebuild(ctx)
	return n, time.Since(start), err
}

// showCase prints a case as it stood on a date, optionally as known at an
// instant, like GET /v1/cases/{id}?as_of=&known_at=.
func showCase(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("case")
	db := fs.String("db", envOr("EHC_DB", "ehcledger.db"), "event database file")
	asOfFlag := fs.String("as-of", "", "the date to show the case on (default: today, or the known-at date)")
	knownFlag := fs.String("known-at", "", "show only what had been recorded by this RFC 3339 instant")
	kf := addKeyFlags(fs)
	demo := fs.Bool("demo", false, "a demo store: unless a master key is given, use the development one beside the key store")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("case: give one case ID")
	}
	ss, err := existingStore(*db, "")
	if err != nil {
		return err
	}
	var knownAt time.Time
	asOf := domain.DateOf(time.Now())
	if *knownFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, *knownFlag)
		if err != nil {
			return fmt.Errorf("--known-at: %q is not an RFC 3339 instant", *knownFlag)
		}
		knownAt, asOf = t, domain.DateOf(t)
	}
	if *asOfFlag != "" {
		d, err := domain.ParseDate(*asOfFlag)
		if err != nil {
			return fmt.Errorf("--as-of: %w", err)
		}
		asOf = d
	}
	views := ss.DefaultViews()
	keysPath := kf.path(views)
	master, _, err := kf.master(ctx, "case", dataFiles(ss, views, keysPath), keysPath, *demo)
	if err != nil {
		return err
	}
	env, err := openEnv(ctx, ss, views, keysAt{path: keysPath, master: master}, time.Now, jsonLogger(io.Discard))
	if err != nil {
		return storeError("--db", err)
	}
	defer env.Close()
	// The view shows the child's personal details: the read goes into the
	// LA's access log like a read through the API, by the operating-system
	// user, before anything is printed.
	id := fs.Arg(0)
	view, err := env.Ledger.Case(ctx, id, asOf, knownAt, func(la, _ string) error {
		return env.Ledger.RecordAccess(ctx, la, id, "cli case", "operator", operator())
	})
	if err != nil {
		return errors.New(domain.ErrorMessage(err))
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(view)
}

// operator names who runs a command line that reads personal data.
func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli:uid-" + strconv.Itoa(os.Getuid())
}

// storeFlags adds --db and --store to a subcommand's flags.
func storeFlags(fs *flag.FlagSet) (db, store *string) {
	db = fs.String("db", envOr("EHC_DB", "ehcledger.db"), "event database file (the embedded store)")
	store = fs.String("store", envOr("EHC_STORE", ""), "event store: sqlite:PATH, esdb://... or esdb+discover://... (default: --db)")
	return db, store
}

// existingStore is the store of --store, or the --db file, which must
// exist: reading commands never create an empty database by mistake.
func existingStore(db, store string) (StoreSpec, error) {
	ss, err := storeOf(db, store)
	if err != nil || ss.Path == "" {
		return ss, err
	}
	if _, err := os.Stat(ss.Path); err != nil {
		flag := "--db"
		if store != "" {
			flag = "--store"
		}
		return ss, fmt.Errorf("%s: %w", flag, err)
	}
	return ss, nil
}

// openExisting opens the store of existingStore: to write, or with
// readOnly, for a command that only reads, beside a server writing to it.
func openExisting(db, store string, readOnly bool) (eventstore.Store, StoreSpec, error) {
	ss, err := existingStore(db, store)
	if err != nil {
		return nil, ss, err
	}
	open := ss.Open
	if readOnly {
		open = ss.OpenReadOnly
	}
	s, err := open()
	if err != nil {
		return nil, ss, storeError(storeFlagOf(store), err)
	}
	return s, ss, nil
}

// storeError names the flag that gave the store in an error saying that
// another process writes to it.
func storeError(flag string, err error) error {
	if !errors.Is(err, sqlitedb.ErrInUse) {
		return err
	}
	return fmt.Errorf("%s: %s", flag, domain.ErrorMessage(err))
}

// storeFlagOf is the flag that named the store: --store when given, else
// --db.
func storeFlagOf(store string) string {
	if store != "" {
		return "--store"
	}
	return "--db"
}

// dataFiles are the files of a store's data, in whose directories its
// master key may not be kept.
func dataFiles(ss StoreSpec, views, keysPath string) []dataFile {
	files := []dataFile{{"the views", views}, {"the key store", keysPath}}
	if ss.Path != "" {
		files = append([]dataFile{{"the event store", ss.Path}}, files...)
	}
	return files
}
