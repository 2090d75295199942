// Package metrics exposes the server's counters and gauges in the
// Prometheus text format.
//
// Counters come from the events.Bus: calls by outcome, offers by result
// and the time callers waited in a queue before a counselor answered. The
// gauges of waiting callers and counselor states are read from the
// queue.Store at each scrape. Media sessions add the RTP packets they
// receive and lose, and the jitter of each stream, through the
// media.ReceptionObserver that Metrics implements. Every series lives in
// one dedicated prometheus.Registry, together with the Go runtime and
// process collectors, so nothing else in the binary can add series to it.
//
// No series carries a phone number, a call ID or a counselor ID: labels
// are queue names, counselor states, fixed outcome names and the leg of
// a media session (caller, counselor, outside or other).
package metrics
