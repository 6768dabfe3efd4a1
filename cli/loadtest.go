package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ehcledger/ehcledger/api"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/demo"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/prometheus/client_golang/prometheus"
)

// loadtest starts the real server on loopback over a scratch store and has
// concurrent clients send requests through HTTP, with tokens, for a bounded
// time: commands, or reads of cases or of the worklist. It reports the
// sustained rate and the latency of requests. The server logs every request
// to a file and records every read of a case, as it does in service. It
// never sends anything beyond 127.0.0.1.
func loadtest(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("loadtest")
	clients := fs.Int("clients", 16, "concurrent clients, each sending one request at a time")
	duration := fs.Duration("duration", 10*time.Second, "how long to send requests (at most 10 minutes)")
	mode := fs.String("mode", "commands", "what the clients send: commands (open a case, decide to assess, ask for advice, again and again), case (GET /v1/cases/{id} of seeded cases) or worklist (GET /v1/worklist)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole process (server and clients) while the clients send, for go tool pprof")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *mode != "commands" && *mode != "case" && *mode != "worklist" {
		return usageError("loadtest: --mode must be commands, case or worklist")
	}
	if *clients < 1 || *clients > 1024 {
		return usageError("loadtest: --clients must be from 1 to 1024")
	}
	if *duration <= 0 || *duration > 10*time.Minute {
		return usageError("loadtest: --duration must be more than 0 and at most 10m")
	}
	dir, err := os.MkdirTemp("", "ehcledger-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The server's log, one JSON line a request, goes to a file as in
	// service.
	logFile, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := jsonLogger(logFile)
	env, err := OpenEnv(ctx, filepath.Join(dir, "load.db"), "", time.Now, logger)
	if err != nil {
		return err
	}
	defer env.Close()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	secret = []byte(hex.EncodeToString(secret))
	verifier, err := auth.NewVerifier(auth.Config{Secret: secret})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	metrics := api.NewMetrics(reg, env.Store, env.Runner)
	env.Ledger.Store = metrics.Instrument(env.Store)
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go follow(runCtx, env, logger)
	srv := newAPIServer(env, reg, metrics, logger, verifier, api.RateLimit{}, func() bool { return true })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	token, err := auth.Issue(secret, auth.Principal{Subject: "loadtest", Role: auth.Caseworker, LAs: []string{"E09000001"}}, time.Hour, time.Now())
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	fmt.Fprintf(stdout, "load test: %d clients sending %s for %s against the real server on %s (%s, %d CPUs, %s)\n",
		*clients, *mode, *duration, ln.Addr(), host, runtime.NumCPU(), runtime.Version())

	transport := &http.Transport{MaxIdleConnsPerHost: *clients}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	send := func(method, path, body string, want int) (time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return 0, fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode)
		}
		return time.Since(start), nil
	}
	// What each client sends next: the i-th request of client w.
	var next func(w, i int) (time.Duration, error)
	switch *mode {
	case "commands":
		next = func(w, i int) (time.Duration, error) {
			id := fmt.Sprintf("load-%d-%d", w, i/3)
			switch i % 3 {
			case 0:
				return send("POST", "/v1/cases", `{"id":"`+id+`","la":"E09000001","data":{"requester":"parent","birth_date":"2016-02-01"}}`, http.StatusCreated)
			case 1:
				return send("POST", "/v1/cases/"+id+"/commands/decide_to_assess", `{}`, http.StatusCreated)
			}
			return send("POST", "/v1/cases/"+id+"/commands/request_advice", `{"data":{"advice":"educational"}}`, http.StatusCreated)
		}
	case "case", "worklist":
		// Cases to read, recorded through the domain before the clock
		// starts: a few steps each, assigned to a caseworker.
		const seeded = 1000
		if _, err := demo.Generate(ctx, env.Ledger, demo.Options{LA: "E09000001", Cases: seeded, Today: domain.DateOf(time.Now()), Seed: 1, Workers: 16, Prefix: "load-"}); err != nil {
			return err
		}
		if _, err := env.Runner.CatchUp(ctx); err != nil {
			return err
		}
		ids := env.Runner.Timeliness.CaseIDs("E09000001")
		if len(ids) == 0 {
			return errors.New("loadtest: no case was seeded")
		}
		next = func(w, i int) (time.Duration, error) {
			if *mode == "worklist" {
				return send("GET", "/v1/worklist?la=E09000001&view=overdue&limit=50", "", http.StatusOK)
			}
			return send("GET", "/v1/cases/"+ids[(w*7919+i)%len(ids)], "", http.StatusOK)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	deadline := time.Now().Add(*duration)
	var mu sync.Mutex
	var lat []time.Duration
	var failures []error
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for i := 0; time.Now().Before(deadline) || (*mode == "commands" && i%3 != 0); i++ {
				d, err := next(w, i)
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					return
				}
				mine = append(mine, d)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(failures) > 0 {
		return fmt.Errorf("loadtest: %d requests failed, the first: %w", len(failures), errors.Join(failures[0]))
	}
	if len(lat) == 0 {
		return errors.New("loadtest: no request completed")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	what := map[string]string{"commands": "commands", "case": "case reads", "worklist": "worklist reads"}[*mode]
	fmt.Fprintf(stdout, "  %d %s in %.1fs = %.0f %s/s sustained; latency p50 %s, p99 %s, max %s; 0 failed\n",
		len(lat), what, elapsed.Seconds(), float64(len(lat))/elapsed.Seconds(), what, q(0.50).Round(time.Microsecond), q(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	return nil
}
