package server

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/almanac-fs/almanac/offline"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	requests        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	entities        prometheus.Histogram
	storeLatency    *prometheus.HistogramVec
	storeErrors     *prometheus.CounterVec
	registryVersion prometheus.Gauge
	reloadFailures  prometheus.Counter
	pushedRows      prometheus.Counter
	loggedRows      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "almanac_requests_total",
			Help: "gRPC requests handled, by method, feature service and status code.",
		}, []string{"method", "feature_service", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "almanac_request_duration_seconds",
			Help:    "Time to handle a gRPC request, by method and feature service.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"method", "feature_service"}),
		entities: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "almanac_request_entities",
			Help:    "Entity rows per lookup.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "almanac_online_store_duration_seconds",
			Help:    "Time of online store calls, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "almanac_online_store_errors_total",
			Help: "Failed online store calls, by operation.",
		}, []string{"op"}),
		registryVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "almanac_registry_version",
			Help: "The registry version being served.",
		}),
		reloadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_registry_reload_failures_total",
			Help: "Registry versions that could not be loaded; the previous one kept serving.",
		}),
		pushedRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_pushed_rows_total",
			Help: "Rows stored through Push.",
		}),
		loggedRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_feature_log_rows_total",
			Help: "Served entity rows handed to the feature log.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.entities, m.storeLatency, m.storeErrors,
			m.registryVersion, m.reloadFailures, m.pushedRows, m.loggedRows, &offlineCollector{s: s})
		if log := s.opts.FeatureLog; log != nil {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "almanac_feature_log_dropped_rows_total",
				Help: "Served entity rows the feature log dropped because its buffer was full.",
			}, func() float64 { return float64(log.Dropped()) }))
		}
	}
	return m
}

func (m *metrics) observeStore(op string, began time.Time, err error) {
	m.storeLatency.WithLabelValues(op).Observe(time.Since(began).Seconds())
	if err != nil {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// unaryInterceptor authenticates requests, records their metrics and logs
// the causes of their failures.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	began := time.Now()
	service := ""
	if r, ok := req.(*almanacv1.GetOnlineFeaturesRequest); ok {
		service = r.GetFeatureService()
		if service != "" && s.catalog.Load().services[service] == nil {
			service = "unknown" // keep label values bounded
		}
	}
	var resp any
	err := s.authorize(ctx, info.FullMethod)
	if err == nil {
		resp, err = handler(ctx, req)
	}
	s.logFailure(info.FullMethod, err)
	code := status.Code(err)
	s.metrics.requests.WithLabelValues(info.FullMethod, service, code.String()).Inc()
	s.metrics.latency.WithLabelValues(info.FullMethod, service).Observe(time.Since(began).Seconds())
	return resp, err
}

// offlineCollector reports, per feature view, the seconds since the newest
// event time of its history and the data-quality expectations its last run
// broke. It reads the offline store's snapshots when scraped.
type offlineCollector struct{ s *Server }

var (
	freshnessDesc = prometheus.NewDesc("almanac_feature_freshness_seconds",
		"Now minus the newest event time in the feature view's history (materialized or pushed).", []string{"view"}, nil)
	violationsDesc = prometheus.NewDesc("almanac_expectation_violations",
		"Rows breaking a data-quality expectation in the last materialization run, by feature view, feature and rule.", []string{"view", "feature", "rule"}, nil)
)

func (f *offlineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- freshnessDesc
	ch <- violationsDesc
}

func (f *offlineCollector) Collect(ch chan<- prometheus.Metric) {
	if f.s.opts.Offline == nil {
		return
	}
	cat := f.s.catalog.Load()
	if cat == nil {
		return
	}
	now := f.s.now()
	for name := range cat.views {
		snap, err := f.s.opts.Offline.Snapshot(name)
		if errors.Is(err, offline.ErrNoData) || err != nil {
			continue
		}
		if newest := snap.Newest(); !newest.IsZero() {
			ch <- prometheus.MustNewConstMetric(freshnessDesc, prometheus.GaugeValue, now.Sub(newest).Seconds(), name)
		}
		if snap.LastRun != nil {
			for _, v := range snap.LastRun.Violations {
				ch <- prometheus.MustNewConstMetric(violationsDesc, prometheus.GaugeValue, float64(v.Rows), name, v.Feature, v.Rule)
			}
		}
	}
}
