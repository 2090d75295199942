// Package benchkit holds what the end-to-end benchmarks under bench/ share:
// a counselor softphone on sipgo (REGISTER with digest authentication per
// RFC 3261 section 22, INVITE answered with an RFC 3264 SDP answer in
// the offered G.711 codec), SIPp callers that wait in the queue, reads
// of the server's Prometheus /metrics, percentiles and slopes, the
// machine's description and the JSON result files in bench/results/.
//
// On a machine with two or more cores and taskset, the server runs on
// core 1 (ServerCore) and SIPp on core 0 (LoadCore). The run scripts start
// the benchmark binary itself, and with it the phone, on core 0.
package benchkit
