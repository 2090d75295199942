package benchkit

import (
	"math"
	"slices"
	"time"
)

// Summary describes a set of duration samples.
type Summary struct {
	Count int     `json:"count"`
	MinMs float64 `json:"min_ms"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	AvgMs float64 `json:"mean_ms"`
}

// Summarize returns the nearest-rank percentiles of samples. An empty
// slice gives a zero Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)

	total := time.Duration(0)
	for _, sample := range sorted {
		total += sample
	}
	return Summary{
		Count: len(sorted),
		MinMs: milliseconds(sorted[0]),
		P50Ms: milliseconds(percentile(sorted, 50)),
		P90Ms: milliseconds(percentile(sorted, 90)),
		P99Ms: milliseconds(percentile(sorted, 99)),
		MaxMs: milliseconds(sorted[len(sorted)-1]),
		AvgMs: milliseconds(total / time.Duration(len(sorted))),
	}
}

// percentile returns the nearest-rank p-th percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func milliseconds(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// Slope returns the least-squares slope of y over x, or 0 with fewer than
// two distinct x values.
func Slope(x, y []float64) float64 {
	n := float64(len(x))
	if len(x) < 2 || len(x) != len(y) {
		return 0
	}
	var sumX, sumY, sumXY, sumXX float64
	for i := range x {
		sumX += x[i]
		sumY += y[i]
		sumXY += x[i] * y[i]
		sumXX += x[i] * x[i]
	}
	denominator := n*sumXX - sumX*sumX
	if denominator == 0 {
		return 0
	}
	return (n*sumXY - sumX*sumY) / denominator
}
