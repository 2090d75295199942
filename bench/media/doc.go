// Package mediabench measures helpline's RTP media path under load and
// compares it with minimal references measured in the same run.
//
// Two benchmarks live here, both run by the script bench/media/run:
//
//   - BenchmarkIVRPlayback places N calls whose menu plays one long prompt
//     and measures how evenly the server paces its 20 ms packets, beside
//     a bare Go UDP sender (cmd/mediaref send) that sends the same packet
//     rate to the same receiver.
//   - BenchmarkBridgedCalls connects N callers to N registered counselors
//     and sends audio both ways through the server's relay, beside a
//     minimal UDP relay (cmd/mediaref relay) and direct loopback.
//
// The load generator is a Go RTP peer: a sipgo user agent that places the
// trunk's calls (RFC 3261), presses menu keys as RFC 4733 events, registers
// counselors with digest authentication and answers their offers, with one
// RTP socket per call leg. Each received packet is timestamped by the kernel
// (SO_TIMESTAMPNS), so the receiver's own scheduling does not add to the
// measured jitter. The peer's own packets carry their send time in the
// payload, which gives one-way latency through a relay.
package mediabench
