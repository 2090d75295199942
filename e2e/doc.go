// Package e2e owns the end-to-end test harness of helpline. It builds the
// real server binary and starts it on loopback ports. It drives the server
// with SIPp scenarios (testdata/sipp), raw SIP datagrams (testdata/sip),
// the RFC 4475 torture messages (e2e/testdata/torture), PROTOS-style
// malformed INVITEs (protos.go), hand-written SIP dialogs over UDP or TCP
// (RawCall) and baresip softphones in the counselors' place. It captures RTP with tshark
// and reads the call records back through `helpline records export`.
//
// Everything runs on 127.0.0.1 only. Each helper starts its own process,
// stops it by its PID in t.Cleanup, and waits for events (a log line, a
// listening socket, a process exit) under a deadline instead of sleeping.
//
// The SIP side follows RFC 3261 (transactions, CANCEL, ACK for 2xx and
// non-2xx, digest authentication), the media side RFC 3550 (RTP) and
// RFC 4733/2833 (telephone-event DTMF), which is what the SIPp scenarios
// send and what the RTP capture decodes.
//
// The web pages are tested in headless Chromium through chromedp
// (browser.go), against the real server or a fake of its JSON API.
//
// Tools: sipp (Debian package sip-tester), baresip, tshark, chromium. A test that needs
// one calls RequireTool: the test is skipped when the tool is missing, but
// fails instead under CI=true or HELPLINE_E2E=1, which scripts/test.sh sets.
// SIPp's pcap playback and tshark's capture need root.
package e2e
