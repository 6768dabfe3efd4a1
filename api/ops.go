package api

import (
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// requestIDPattern is what a client's X-Request-ID may be; anything else is
// replaced, so logs never carry a caller's arbitrary text.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`)

// requestLog gives every request an ID (the client's X-Request-ID when it is
// sensible, else a new UUID), returns it in X-Request-ID, and logs one JSON
// line when the request ends.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !requestIDPattern.MatchString(id) {
			id = uuid.NewString()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		if s.Logger != nil {
			attrs := []any{"request_id", id, "method", c.Request().Method, "route", c.Path(),
				"status", c.Response().Status, "duration_ms", float64(time.Since(start).Microseconds()) / 1000}
			if p, ok := c.Get(principalKey).(auth.Principal); ok {
				attrs = append(attrs, "subject", p.Subject, "role", string(p.Role))
			}
			s.Logger.Info("request", attrs...)
		}
		return nil
	}
}

// RateLimit is how many requests a token may send: Rate a second on
// average, in bursts of up to Burst.
type RateLimit struct {
	Rate  float64
	Burst int
}

// limiters holds a token bucket per token, dropping buckets unused for ten
// minutes so the map stays the size of the active users.
type limiters struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	l    *rate.Limiter
	used time.Time
}

func (ls *limiters) allow(key string, now time.Time, limit RateLimit) (bool, time.Duration) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.buckets == nil {
		ls.buckets = map[string]*bucket{}
	}
	if now.Sub(ls.swept) > time.Minute {
		for k, b := range ls.buckets {
			if now.Sub(b.used) > 10*time.Minute {
				delete(ls.buckets, k)
			}
		}
		ls.swept = now
	}
	b := ls.buckets[key]
	if b == nil {
		b = &bucket{l: rate.NewLimiter(rate.Limit(limit.Rate), max(limit.Burst, 1))}
		ls.buckets[key] = b
	}
	b.used = now
	r := b.l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// rateLimit refuses a token's requests beyond its rate with 429 and a
// Retry-After. It runs after authentication, so it counts verified tokens
// only; without a limit configured it lets everything through.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return s.limitBy(func(c echo.Context) string { return principal(c).TokenID }, "with this token")(next)
}

// rateLimitByAddress limits requests that carry no identity yet (an
// invitation's landing page) by the address they come from, so that no
// one client's requests use up everyone's share.
func (s *Server) rateLimitByAddress(next echo.HandlerFunc) echo.HandlerFunc {
	return s.limitBy(func(c echo.Context) string {
		host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
		if err != nil {
			host = c.Request().RemoteAddr
		}
		return "address:" + host
	}, "from this address")(next)
}

// limitBy refuses requests beyond the rate for their key with 429 and a
// Retry-After; without a limit configured it lets everything through.
func (s *Server) limitBy(key func(echo.Context) string, whose string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if s.RateLimit.Rate <= 0 {
				return next(c)
			}
			if allowed, wait := s.limiters.allow(key(c), time.Now(), s.RateLimit); !allowed {
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
				return domain.Errorf(domain.TooMany, "too many requests %s; try again in %s", whose, wait.Round(time.Second))
			}
			return next(c)
		}
	}
}

// whenReady answers 503, with Retry-After, until the projections have caught
// up with the store after a start: views would be wrong, and a command's
// effects would not show.
func (s *Server) whenReady(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.Ready != nil && !s.Ready() {
			c.Response().Header().Set("Retry-After", "5")
			return echo.NewHTTPError(http.StatusServiceUnavailable, "the projections are catching up with the store; try again shortly")
		}
		return next(c)
	}
}
