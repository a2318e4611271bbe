// Package metrics exposes mxguard's Prometheus metrics (client_golang):
// verdicts by check and action, check durations, DNS queries by type and
// rcode, resolver cache hits and misses, open milter sessions and reloads.
// Nothing is collected unless metrics.listen is set; the rest of mxguard
// only sees the hook functions (STYLE.md habit 13: no-op by default, wired
// in main).
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/dmarc"
)

// Metrics is one registry of mxguard's metrics.
type Metrics struct {
	Registry *prometheus.Registry

	verdicts    *prometheus.CounterVec
	checks      *prometheus.CounterVec
	checkDur    *prometheus.HistogramVec
	dnsQueries  *prometheus.CounterVec
	cacheHits   prometheus.Counter
	cacheMisses prometheus.Counter
	reloads     *prometheus.CounterVec
	auth        *prometheus.CounterVec
	listHealthy *prometheus.GaugeVec
}

// New registers the metrics; sessions reports the number of open milter
// sessions when scraped.
func New(sessions func() float64) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxguard_verdicts_total",
		Help: "Verdicts answered to the MTA, by deciding check (empty when none decided) and action.",
	}, []string{"check", "action"})
	m.checks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxguard_check_results_total",
		Help: "Restriction evaluations, by check, status and the action the configuration gave it.",
	}, []string{"check", "status", "action"})
	m.checkDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mxguard_check_duration_seconds",
		Help:    "Time one restriction took, DNS lookups included.",
		Buckets: []float64{.0001, .0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"check", "status"})
	m.dnsQueries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxguard_dns_queries_total",
		Help: "DNS queries sent upstream, by type and rcode (TIMEOUT or ERROR when no answer came).",
	}, []string{"qtype", "rcode"})
	m.cacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mxguard_dns_cache_hits_total", Help: "DNS lookups answered from the cache."})
	m.cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mxguard_dns_cache_misses_total", Help: "DNS lookups that went upstream."})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxguard_reloads_total", Help: "Configuration reloads (SIGHUP), by result (ok or error).",
	}, []string{"result"})
	m.auth = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxguard_auth_results_total",
		Help: "End-of-data authentication results, by method (spf, dkim, dmarc, iprev) and result.",
	}, []string{"method", "result"})
	m.listHealthy = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mxguard_dnsbl_list_healthy",
		Help: "1 when a DNS list passed its last RFC 5782 health check, 0 when it is not used until it recovers.",
	}, []string{"list"})
	m.Registry.MustRegister(m.auth, m.listHealthy, m.verdicts, m.checks, m.checkDur, m.dnsQueries, m.cacheHits, m.cacheMisses, m.reloads,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mxguard_sessions_active", Help: "Open milter connections (one per SMTP session of the MTA).",
		}, sessions),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	return m
}

// Outcome records one verdict and the restrictions evaluated for it.
func (m *Metrics) Outcome(o *pipeline.Outcome) {
	m.verdicts.WithLabelValues(o.Check, o.Action).Inc()
	for _, r := range o.Results {
		m.checks.WithLabelValues(r.Check, string(r.Status), r.Action).Inc()
		m.checkDur.WithLabelValues(r.Check, string(r.Status)).Observe(r.Duration.Seconds())
	}
}

// DNS is the resolver's metrics hook (resolver.MetricsFunc).
func (m *Metrics) DNS(qtype, rcode string, cached bool) {
	if cached {
		m.cacheHits.Inc()
		return
	}
	m.cacheMisses.Inc()
	m.dnsQueries.WithLabelValues(qtype, rcode).Inc()
}

// Reload records a reload.
func (m *Metrics) Reload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("error").Inc()
	}
}

// Serve serves /metrics on addr until ctx is done.
func (m *Metrics) Serve(ctx context.Context, addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener was closed under it: nothing left to serve
		}
	}()
	return ln.Addr(), nil
}

// Auth records the end-of-data results of one message, and the end-of-data
// verdict when it refused or held the message.
func (m *Metrics) Auth(v *dmarc.Verdict, _ int) {
	if v.Action != "continue" {
		m.verdicts.WithLabelValues(v.Check, v.Action).Inc()
	}
	a := v.Auth
	if a == nil {
		return
	}
	if a.SPF != nil {
		m.auth.WithLabelValues("spf", a.SPF.Result).Inc()
	}
	for _, d := range a.DKIM {
		m.auth.WithLabelValues("dkim", d.Result).Inc()
	}
	if a.DMARC != nil {
		m.auth.WithLabelValues("dmarc", a.DMARC.Result).Inc()
	}
	if a.IPRev != nil {
		m.auth.WithLabelValues("iprev", a.IPRev.Result).Inc()
	}
}

// ListHealth is the DNS list health hook (dnsbl.Health.Report).
func (m *Metrics) ListHealth(list string, healthy bool, _ error) {
	v := 0.0
	if healthy {
		v = 1
	}
	m.listHealthy.WithLabelValues(list).Set(v)
}
