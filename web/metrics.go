package web

import "net/http"

// RegisterMetrics serves h, a Prometheus handler such as the one of
// metrics.Metrics, at GET /metrics without a token, so that a Prometheus
// server can scrape it like /healthz. The series carry counts, queue
// names and counselor states, never a phone number, call ID or secret.
// Keep the API listener on a private address all the same, because the
// counts show how busy the line is.
func RegisterMetrics(api *API, h http.Handler) {
	api.HandlePublic("GET /metrics", h.ServeHTTP)
}
