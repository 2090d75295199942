package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
)

// Settings of the collectors.
const (
	// SubscriptionBuffer is how many events the metrics subscription holds
	// while the counters are updated. Updating takes microseconds, so the
	// buffer fills only when the process is starved of CPU.
	SubscriptionBuffer = 4096
	// DefaultStoreTimeout bounds the queue store reads of one scrape.
	DefaultStoreTimeout = 2 * time.Second
)

// Values of the source label of helpline_errors_total.
const (
	// SourceQueueStore counts scrapes whose queue store read failed.
	SourceQueueStore = "queue_store"
	// SourceEvents counts events the metrics subscription lost to a full
	// buffer, so the event counters are short by that many.
	SourceEvents = "events"
)

// waitBuckets are the bounds, in seconds, of helpline_queue_wait_seconds:
// from a caller answered at once to half an hour in the queue.
var waitBuckets = []float64{1, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800}

// Metrics owns the registry behind /metrics, the counters fed by the
// event bus and the RTP series fed by media sessions, as their
// media.ReceptionObserver. Create it with New, feed it with Start, and
// stop it with Close.
type Metrics struct {
	registry *prometheus.Registry
	log      zerolog.Logger

	calls  *prometheus.CounterVec
	offers *prometheus.CounterVec
	wait   *prometheus.HistogramVec
	errors *prometheus.CounterVec
	rtp    *rtpVecs
	// rateLimited counts the SIP requests the per-source rate limit
	// stopped.
	rateLimited *prometheus.CounterVec

	// store, queues and storeTimeout configure the scrape-time gauges;
	// store is nil when they are off.
	store        queue.Store
	queues       []string
	storeTimeout time.Duration
	// spool reads the records spool's statistics; nil leaves its series
	// out.
	spool func() SpoolStats

	// sub is the bus subscription, nil before Start. done is closed when
	// the event loop has returned.
	sub  *events.Subscription
	done chan struct{}
}

// Option configures New.
type Option func(*Metrics)

// WithQueueStore adds the gauges helpline_callers_waiting, for each of
// queues, and helpline_counselors, read from store at every scrape.
func WithQueueStore(store queue.Store, queues []string) Option {
	return func(m *Metrics) {
		m.store = store
		m.queues = append([]string(nil), queues...)
	}
}

// WithStoreTimeout bounds the queue store reads of one scrape
// (DefaultStoreTimeout when not positive).
func WithStoreTimeout(d time.Duration) Option {
	return func(m *Metrics) {
		if d > 0 {
			m.storeTimeout = d
		}
	}
}

// WithLogger sets the logger for queue store failures.
func WithLogger(log zerolog.Logger) Option {
	return func(m *Metrics) { m.log = log }
}

// New builds the registry with the helpline series and the Go runtime and
// process collectors.
func New(opts ...Option) *Metrics {
	m := &Metrics{
		registry:     prometheus.NewRegistry(),
		log:          zerolog.Nop(),
		storeTimeout: DefaultStoreTimeout,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpline_calls_total",
			Help: "Calls ended on this node, by the outcome of their call record.",
		}, []string{"outcome"}),
		offers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpline_offers_total",
			Help: "Offers of callers to counselors' phones on this node, by result: offered, answered, ring_no_answer or rejected.",
		}, []string{"result"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "helpline_queue_wait_seconds",
			Help:    "Time callers waited in a queue before a counselor answered, by queue.",
			Buckets: waitBuckets,
		}, []string{"queue"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpline_errors_total",
			Help: "Failures seen by the metrics collectors, by source: queue_store (a scrape could not read the queue store) or events (events lost to a full buffer).",
		}, []string{"source"}),
		rtp:         newRTPVecs(),
		rateLimited: newRateLimited(),
	}
	for _, opt := range opts {
		opt(m)
	}
	m.initSeries()

	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.offers, m.wait, m.rateLimited,
		&scrapeCollector{m: m},
	)
	m.registry.MustRegister(m.rtp.collectors()...)
	if m.spool != nil {
		m.registry.MustRegister(spoolCollector{stats: m.spool})
	}
	return m
}

// initSeries creates the series of every fixed label value at 0, so that
// a rate over them works from the first scrape.
func (m *Metrics) initSeries() {
	for _, result := range []string{resultOffered, resultAnswered, resultRingNoAnswer, resultRejected} {
		m.offers.WithLabelValues(result)
	}
	m.errors.WithLabelValues(SourceEvents)
	if m.store != nil {
		m.errors.WithLabelValues(SourceQueueStore)
	}
}

// Handler returns the HTTP handler that serves the registry in the
// Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
