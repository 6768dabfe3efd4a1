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
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ehcledger/ehcledger/api"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/prometheus/client_golang/prometheus"
)

// loadtest starts the real server on loopback over a scratch store and has
// concurrent clients send commands through HTTP, with tokens, for a bounded
// time; it reports the sustained rate and the latency of commands. It never
// sends anything beyond 127.0.0.1.
func loadtest(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("loadtest")
	clients := fs.Int("clients", 16, "concurrent clients, each sending one command at a time")
	duration := fs.Duration("duration", 10*time.Second, "how long to send commands (at most 10 minutes)")
	if err := parse(fs, args); err != nil {
		return err
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
	env, err := OpenEnv(ctx, filepath.Join(dir, "load.db"), "", time.Now, jsonLogger(io.Discard))
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
	go follow(runCtx, env, jsonLogger(io.Discard))
	srv := newAPIServer(env, reg, metrics, jsonLogger(io.Discard), verifier, api.RateLimit{}, func() bool { return true })
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
	fmt.Fprintf(stdout, "load test: %d clients for %s against the real server on %s (%s, %d CPUs, %s)\n",
		*clients, *duration, ln.Addr(), host, runtime.NumCPU(), runtime.Version())

	transport := &http.Transport{MaxIdleConnsPerHost: *clients}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	post := func(path, body string) (time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return 0, fmt.Errorf("%s: status %d", path, resp.StatusCode)
		}
		return time.Since(start), nil
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
			for i := 0; time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("load-%d-%d", w, i)
				for _, step := range [][2]string{
					{"/v1/cases", `{"id":"` + id + `","la":"E09000001","data":{"requester":"parent","birth_date":"2016-02-01"}}`},
					{"/v1/cases/" + id + "/commands/decide_to_assess", `{}`},
					{"/v1/cases/" + id + "/commands/request_advice", `{"data":{"advice":"educational"}}`},
				} {
					d, err := post(step[0], step[1])
					if err != nil {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
						return
					}
					mine = append(mine, d)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(failures) > 0 {
		return fmt.Errorf("loadtest: %d commands failed, the first: %w", len(failures), errors.Join(failures[0]))
	}
	if len(lat) == 0 {
		return errors.New("loadtest: no command completed")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(stdout, "  %d commands in %.1fs = %.0f commands/s sustained; latency p50 %s, p99 %s, max %s; 0 failed\n",
		len(lat), elapsed.Seconds(), float64(len(lat))/elapsed.Seconds(), q(0.50).Round(time.Microsecond), q(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	return nil
}
