package metrics_test

import (
	"strings"
	"testing"
	"time"

	"helpline/media"
	"helpline/metrics"
)

func TestRTPSeries(t *testing.T) {
	m := metrics.New()

	m.AddReception(media.LegCaller, 100, 3)
	m.AddReception(media.LegCaller, 50, 2)
	m.AddReception(media.LegCounselor, 10, 0)
	m.AddReception(media.Leg("a84b4c76e66710@10.0.0.1"), 7, 1)
	m.StreamEnded(media.LegCaller, media.StreamStats{Received: 150, Lost: 5, HasJitter: true,
		Jitter: 4 * time.Millisecond, MaxJitter: 30 * time.Millisecond})
	m.StreamEnded(media.LegCounselor, media.StreamStats{Received: 1})
	body := scrape(t, m)

	for _, want := range []string{
		`helpline_rtp_packets_received_total{leg="caller"} 150`,
		`helpline_rtp_packets_lost_total{leg="caller"} 5`,
		`helpline_rtp_packets_received_total{leg="counselor"} 10`,
		`helpline_rtp_packets_lost_total{leg="counselor"} 0`,
		`helpline_rtp_packets_received_total{leg="other"} 7`,
		`helpline_rtp_packets_lost_total{leg="other"} 1`,
		`helpline_rtp_packets_received_total{leg="outside"} 0`,
		`helpline_rtp_jitter_seconds_bucket{leg="caller",le="0.002"} 0`,
		`helpline_rtp_jitter_seconds_bucket{leg="caller",le="0.005"} 1`,
		`helpline_rtp_jitter_seconds_count{leg="caller"} 1`,
		`helpline_rtp_jitter_seconds_sum{leg="caller"} 0.004`,
		`helpline_rtp_jitter_max_seconds_bucket{leg="caller",le="0.02"} 0`,
		`helpline_rtp_jitter_max_seconds_bucket{leg="caller",le="0.03"} 1`,
		`helpline_rtp_jitter_max_seconds_bucket{leg="caller",le="0.2"} 1`,
		`helpline_rtp_jitter_seconds_count{leg="counselor"} 0`,
		`helpline_rtp_jitter_max_seconds_count{leg="outside"} 0`,
	} {
		if !hasLine(body, want) {
			t.Errorf("/metrics has no line %q", want)
		}
	}
	if strings.Contains(body, "a84b4c76e66710") {
		t.Errorf("/metrics exposes an unknown leg value as a label:\n%s", body)
	}
}
