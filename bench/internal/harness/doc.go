// Package harness holds the pieces that every benchmark under bench/
// shares: the machine description, CPU pinning with taskset, free loopback
// ports, building and starting a helpline server from the example
// configuration, running SIPp, and writing raw results to bench/results/.
//
// Benchmarks built on it record numbers and never assert them. Everything
// they start binds to loopback only and is stopped by its own PID.
package harness
