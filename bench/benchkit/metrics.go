package benchkit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Metric names the benchmarks read from the server's /metrics, as the Go
// and process collectors of prometheus/client_golang and package metrics
// export them.
const (
	MetricHeapInuse  = "go_memstats_heap_inuse_bytes"
	MetricHeapAlloc  = "go_memstats_heap_alloc_bytes"
	MetricStackInuse = "go_memstats_stack_inuse_bytes"
	// MetricHeapIdle minus MetricHeapReleased is heap memory the runtime
	// keeps mapped although no object uses it, which RSS still counts.
	MetricHeapIdle     = "go_memstats_heap_idle_bytes"
	MetricHeapReleased = "go_memstats_heap_released_bytes"
	MetricGoroutines   = "go_goroutines"
	MetricGCCount      = "go_gc_duration_seconds_count"
	MetricRSS          = "process_resident_memory_bytes"
	MetricOpenFDs      = "process_open_fds"
	MetricWaiting      = "helpline_callers_waiting"
	MetricCounselors   = "helpline_counselors"
)

// scrapeTimeout bounds one GET /metrics.
const scrapeTimeout = 10 * time.Second

// Scrape is one reading of /metrics: the value of each series, keyed by
// the series as the text format writes it, such as
// `helpline_callers_waiting{queue="loneliness_ko"}`.
type Scrape struct {
	// At is when the response arrived.
	At     time.Time
	series map[string]float64
}

// Value returns the value of the series without labels called name, and
// whether it was present.
func (s Scrape) Value(name string) (float64, bool) {
	value, ok := s.series[name]
	return value, ok
}

// Sum adds up every series called name, whatever its labels.
func (s Scrape) Sum(name string) float64 {
	total := 0.0
	for key, value := range s.series {
		if key == name || strings.HasPrefix(key, name+"{") {
			total += value
		}
	}
	return total
}

// Labeled returns the value of the series called name whose labels
// contain label="value".
func (s Scrape) Labeled(name, label, value string) float64 {
	want := label + `="` + value + `"`
	for key, v := range s.series {
		if strings.HasPrefix(key, name+"{") && strings.Contains(key, want) {
			return v
		}
	}
	return 0
}

// ScrapeMetrics reads the Prometheus text format from url.
func ScrapeMetrics(ctx context.Context, client *http.Client, url string) (Scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Scrape{}, fmt.Errorf("building GET %s: %w", url, err)
	}
	res, err := client.Do(req)
	if err != nil {
		return Scrape{}, fmt.Errorf("GET %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return Scrape{}, fmt.Errorf("GET %s: status %d", url, res.StatusCode)
	}
	series, err := parseTextFormat(res.Body)
	if err != nil {
		return Scrape{}, fmt.Errorf("reading %s: %w", url, err)
	}
	return Scrape{At: time.Now(), series: series}, nil
}

// parseTextFormat reads "series value [timestamp]" lines and skips
// comments. Label values in these metrics contain no spaces.
func parseTextFormat(r io.Reader) (map[string]float64, error) {
	series := map[string]float64{}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("invalid metrics line %q: want a series and a value", line)
		}
		value, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value in metrics line %q: %w", line, err)
		}
		series[fields[0]] = value
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	return series, nil
}
