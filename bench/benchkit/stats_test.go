package benchkit

import (
	"strings"
	"testing"
	"time"
)

func TestSummarizePercentiles(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- {
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(samples)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"min", s.MinMs, 1},
		{"p50", s.P50Ms, 50},
		{"p90", s.P90Ms, 90},
		{"p99", s.P99Ms, 99},
		{"max", s.MaxMs, 100},
		{"mean", s.AvgMs, 50.5},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, expected %v", c.name, c.got, c.want)
		}
	}
	if s.Count != 100 {
		t.Errorf("count = %d, expected 100", s.Count)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if s := Summarize(nil); s != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v, expected zero", s)
	}
}

func TestSlope(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		{"line", []float64{0, 100, 500}, []float64{1000, 2000, 6000}, 10},
		{"one point", []float64{5}, []float64{7}, 0},
		{"same x", []float64{3, 3}, []float64{1, 2}, 0},
		{"length mismatch", []float64{1, 2}, []float64{1}, 0},
	}
	for _, tt := range tests {
		if got := Slope(tt.x, tt.y); got != tt.want {
			t.Errorf("%s: Slope = %v, expected %v", tt.name, got, tt.want)
		}
	}
}

func TestParseTextFormat(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
helpline_callers_waiting{queue="loneliness_ko"} 3
helpline_callers_waiting{queue="loneliness_en"} 1
`
	series, err := parseTextFormat(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parseTextFormat: %v", err)
	}
	s := Scrape{series: series}
	if v, ok := s.Value("go_goroutines"); !ok || v != 42 {
		t.Errorf("go_goroutines = %v, %v; expected 42, true", v, ok)
	}
	if v := s.Sum("helpline_callers_waiting"); v != 4 {
		t.Errorf("sum of waiting = %v, expected 4", v)
	}
	if v := s.Labeled("helpline_callers_waiting", "queue", "loneliness_en"); v != 1 {
		t.Errorf("waiting in loneliness_en = %v, expected 1", v)
	}
}

func TestParseTextFormatInvalid(t *testing.T) {
	for _, line := range []string{"lonely_name", "name notanumber"} {
		if _, err := parseTextFormat(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("parseTextFormat(%q) succeeded, expected an error", line)
		}
	}
}
