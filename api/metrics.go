package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

func errorsAs(err error, target **domain.Error) bool { return errors.As(err, target) }

// Metrics are the server's Prometheus collectors.
type Metrics struct {
	requests *prometheus.HistogramVec
	appends  *prometheus.HistogramVec
}

// overdueCollector reports each LA's overdue clocks when scraped.
type overdueCollector struct {
	desc  *prometheus.Desc
	views *projections.Runner
	now   func() time.Time
}

func (o overdueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o overdueCollector) Collect(ch chan<- prometheus.Metric) {
	for la, n := range o.views.Timeliness.OverdueByLA(domain.DateOf(o.now())) {
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(n), la)
	}
}

// NewMetrics registers the collectors on reg. The projection lag is computed
// when scraped, from the store's head and the runner's checkpoint; so are the
// overdue clocks of each LA.
func NewMetrics(reg *prometheus.Registry, store eventstore.Store, views *projections.Runner) *Metrics {
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ehc_http_request_duration_seconds", Help: "HTTP request latency by route, method and status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"method", "route", "status"}),
		appends: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ehc_append_duration_seconds", Help: "Event store append latency (durable commit included) by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.appends,
		overdueCollector{desc: prometheus.NewDesc("ehc_overdue_clocks", "Statutory clocks overdue today, by LA.", []string{"la"}, nil),
			views: views, now: time.Now},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ehc_projection_lag_events", Help: "Events committed to the store but not yet applied to every projection.",
		}, func() float64 {
			head, err := store.Head(context.Background())
			if err != nil {
				return -1
			}
			return float64(head - views.Position())
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ehc_store_head_position", Help: "Global position of the last committed event.",
		}, func() float64 {
			head, _ := store.Head(context.Background())
			return float64(head)
		}),
	)
	return m
}

func (s *Server) metricsMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			if s.Metrics != nil {
				method, route := metricLabels(c, s.routeSet)
				s.Metrics.requests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Observe(time.Since(start).Seconds())
			}
			return nil
		}
	}
}

// InstrumentedStore records append latency around another store.
type InstrumentedStore struct {
	eventstore.Store
	m *Metrics
}

// Instrument wraps a store so its appends are measured.
func (m *Metrics) Instrument(s eventstore.Store) *InstrumentedStore {
	return &InstrumentedStore{Store: s, m: m}
}

// ReadAllInto implements eventstore.BatchReader, reusing buf when the
// wrapped store can: the wrapper would otherwise hide it from a read of the
// whole log (an SEN2 return's).
func (s *InstrumentedStore) ReadAllInto(ctx context.Context, buf []eventstore.RecordedEvent, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	if br, ok := s.Store.(eventstore.BatchReader); ok {
		return br.ReadAllInto(ctx, buf, from, limit)
	}
	return s.Store.ReadAll(ctx, from, limit)
}

// Append implements eventstore.Store.
func (s *InstrumentedStore) Append(ctx context.Context, stream string, exp eventstore.ExpectedVersion, evs []eventstore.EventData) (eventstore.AppendResult, error) {
	start := time.Now()
	res, err := s.Store.Append(ctx, stream, exp, evs)
	outcome := "ok"
	if err != nil {
		outcome = string(domain.ErrorCode(err))
	}
	s.m.appends.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	return res, err
}

// metricLabels names a request for the metrics with values from a fixed
// set, so that a client cannot add series at will (a made-up method, a
// path that matches no route): the method if it is one HTTP defines, else
// "other"; the route template if the request matched one, else
// "unmatched".
func metricLabels(c echo.Context, routes map[string]bool) (method, route string) {
	method = c.Request().Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
	default:
		method = "other"
	}
	route = c.Path()
	if !routes[route] {
		route = "unmatched"
	}
	return method, route
}
