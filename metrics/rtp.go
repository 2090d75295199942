package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"helpline/media"
)

// legOther labels the RTP series of a session whose leg is not in
// rtpLegs, so that the label keeps a fixed, small set of values.
const legOther = "other"

// rtpLegs are the values of the leg label of the RTP series besides
// legOther.
var rtpLegs = []media.Leg{media.LegCaller, media.LegCounselor, media.LegOutside}

// jitterBuckets are the bounds, in seconds, of the RTP jitter histograms:
// from 1 ms, a clean network, to 200 ms, more than a usual playout
// buffer absorbs.
var jitterBuckets = []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2}

// The Metrics type implements media.ReceptionObserver.
var _ media.ReceptionObserver = (*Metrics)(nil)

// rtpSeries are the RTP series of one leg label value.
type rtpSeries struct {
	received  prometheus.Counter
	lost      prometheus.Counter
	jitter    prometheus.Observer
	maxJitter prometheus.Observer
}

// rtpVecs are the RTP series by leg.
type rtpVecs struct {
	received  *prometheus.CounterVec
	lost      *prometheus.CounterVec
	jitter    *prometheus.HistogramVec
	maxJitter *prometheus.HistogramVec
	// byLeg holds the series of every label value, filled by New and only
	// read afterwards, so sessions need no lock to find theirs.
	byLeg map[string]rtpSeries
}

func newRTPVecs() *rtpVecs {
	v := &rtpVecs{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpline_rtp_packets_received_total",
			Help: "RTP packets received from the peers of this node's media sessions, duplicates excluded, by leg: caller, counselor, outside or other.",
		}, []string{"leg"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpline_rtp_packets_lost_total",
			Help: "RTP packets the peers' sequence numbers show as sent but that never arrived (RFC 3550), by leg.",
		}, []string{"leg"}),
		jitter: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "helpline_rtp_jitter_seconds",
			Help:    "Interarrival jitter (RFC 3550) of each received RTP stream when it ended, by leg.",
			Buckets: jitterBuckets,
		}, []string{"leg"}),
		maxJitter: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "helpline_rtp_jitter_max_seconds",
			Help:    "Highest interarrival jitter (RFC 3550) of each received RTP stream during its life, by leg.",
			Buckets: jitterBuckets,
		}, []string{"leg"}),
		byLeg: make(map[string]rtpSeries, len(rtpLegs)+1),
	}

	labels := []string{legOther}
	for _, leg := range rtpLegs {
		labels = append(labels, string(leg))
	}
	for _, label := range labels {
		v.byLeg[label] = rtpSeries{
			received:  v.received.WithLabelValues(label),
			lost:      v.lost.WithLabelValues(label),
			jitter:    v.jitter.WithLabelValues(label),
			maxJitter: v.maxJitter.WithLabelValues(label),
		}
	}
	return v
}

// collectors returns the vectors to register.
func (v *rtpVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.received, v.lost, v.jitter, v.maxJitter}
}

// series returns the series of leg, those of legOther for an unknown leg.
func (v *rtpVecs) series(leg media.Leg) rtpSeries {
	if s, ok := v.byLeg[string(leg)]; ok {
		return s
	}
	return v.byLeg[legOther]
}

// AddReception adds a media session's packets received and lost since its
// previous report to helpline_rtp_packets_received_total and
// helpline_rtp_packets_lost_total.
func (m *Metrics) AddReception(leg media.Leg, received, lost uint64) {
	s := m.rtp.series(leg)
	s.received.Add(float64(received))
	s.lost.Add(float64(lost))
}

// StreamEnded adds an ended stream's jitter to helpline_rtp_jitter_seconds
// and helpline_rtp_jitter_max_seconds. A stream without a jitter estimate,
// fewer than two audio packets, is left out of both.
func (m *Metrics) StreamEnded(leg media.Leg, stream media.StreamStats) {
	if !stream.HasJitter {
		return
	}
	s := m.rtp.series(leg)
	s.jitter.Observe(stream.Jitter.Seconds())
	s.maxJitter.Observe(stream.MaxJitter.Seconds())
}
