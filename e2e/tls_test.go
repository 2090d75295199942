package e2e

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpline/internal/tlstest"
)

// srtpTagBytes is the authentication tag of AES_CM_128_HMAC_SHA1_80 that
// follows each SRTP payload.
const srtpTagBytes = 10

// minCipherEntropy is the byte entropy, in bits, above which captured
// payloads count as encrypted. Random bytes approach 8 bits. G.711 of a
// tone stays far below, because a sine uses few of the 256 codes: 5.7 bits
// in a capture of this test's tones without SRTP.
const minCipherEntropy = 7.5

// A counselor outside the office registers over TLS with SRTP required
// (baresip's srtp module, mediaenc=srtp-mand) and logs in with *21 over
// the same TLS connection and SRTP. A trunk caller then reaches them
// and both hear each other, while the RTP between server and counselor is
// SRTP: every payload carries the 10-byte tag and looks random. During the
// call the server reloads a new certificate on SIGHUP: new TLS connections
// get it, and the call goes on over the old connection. A reload of a
// broken file keeps the certificate in use, and a fixed file loads again.
func TestCounselorOverTLSWithSRTP(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")
	listener, withTLS := WithTLS(t)
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		DirectQueue(cfg)
		withTLS(cfg)
		MustSetConfig(t, cfg, "sip.secure_counselors.office_networks", []any{"10.0.0.0/8"})
		MustSetConfig(t, cfg, "sip.secure_counselors.required_outside_office", true)
	}})

	counselor := StartBaresip(t, Softphone{
		User: "1001", Password: "demo-1001", Server: listener.Addr(), Transport: "tls",
		CAFile: listener.Certificate.CertFile, MediaEncryption: "srtp-mand",
		AutoAnswer: true, SourceWAV: ToneSource(t, "1001", CounselorToneHz), RTPPorts: 2,
	})
	srv.WaitLog(t, LogFields(map[string]any{"message": "binding added", "user": "1001", "transport": "tls"}), logTimeout)
	capture := Capture(t, counselor.RTP.Min)

	// The counselor's own call, *21 to log in, goes over TLS with SRTP.
	if level := dialFeature(t, counselor, "*21"); level < silenceRMS {
		t.Errorf("the counselor heard RMS %.0f after *21, expected the confirmation prompt (above %d)", level, silenceRMS)
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor state changed", "counselor": "1001", "to": "available", "source": "phone"}), logTimeout)
	caller := StartTonePhone(t, srv.Addr(), "7000", "", CallerToneHz, false)

	callerTimeline, counselorTimeline, bridged := callThroughTrunk(t, srv, caller, counselor)
	beforeReload := Measure(4 * time.Second)

	first := listener.Certificate
	second := tlstest.Write(t, filepath.Dir(first.CertFile), "helpline e2e renewed")
	from := srv.LogCount()
	srv.Reload()
	srv.WaitLogAfter(t, from, LogFields(map[string]any{"message": "sip tls certificate reloaded", "subject": "CN=helpline e2e renewed"}), logTimeout)
	if got := listener.PeerSerial(t, second); got != second.Leaf.SerialNumber.Text(16) {
		t.Errorf("a new TLS connection after SIGHUP got serial %s, expected the new certificate's %s", got, second.Leaf.SerialNumber.Text(16))
	}

	// A broken file on the next SIGHUP keeps the certificate in use.
	if err := os.WriteFile(second.CertFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatalf("breaking the certificate file: %v", err)
	}
	from = srv.LogCount()
	srv.Reload()
	failed := srv.WaitLogAfter(t, from, LogMessage("sip tls certificate reload failed"), logTimeout)
	if text, _ := failed["error"].(string); !strings.Contains(text, second.CertFile) {
		t.Errorf("reload error %q does not name the certificate file %s", text, second.CertFile)
	}
	if got := listener.PeerSerial(t, second); got != second.Leaf.SerialNumber.Text(16) {
		t.Errorf("after a failed reload a new TLS connection got serial %s, expected the kept certificate's %s", got, second.Leaf.SerialNumber.Text(16))
	}

	// Fixed files load on the next SIGHUP. The command line tools read the
	// same configuration, which rejects a broken certificate file.
	third := tlstest.Write(t, filepath.Dir(first.CertFile), "helpline e2e fixed")
	from = srv.LogCount()
	srv.Reload()
	srv.WaitLogAfter(t, from, LogFields(map[string]any{"message": "sip tls certificate reloaded", "subject": "CN=helpline e2e fixed"}), logTimeout)
	if got := listener.PeerSerial(t, third); got != third.Leaf.SerialNumber.Text(16) {
		t.Errorf("after the fixed reload a new TLS connection got serial %s, expected %s", got, third.Leaf.SerialNumber.Text(16))
	}
	reloaded := time.Now()
	afterReload := Measure(4 * time.Second)

	caller.Hangup(t)
	caller.WaitEvent(t, EventCallClosed, phoneTimeout)
	counselor.WaitEvent(t, EventCallClosed, phoneTimeout)
	rec := srv.WaitRecord(t, func(r map[string]any) bool {
		return recordField(r, "counselor") == "1001" && recordField(r, "ended_at") != ""
	}, recordTimeout)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "hangup_side": "caller"})

	callerWAV := ReadRecording(t, caller, "caller")
	counselorWAV := ReadRecording(t, counselor, "counselor")
	callerTone := map[string]float64{"caller": CallerToneHz}
	counselorTone := map[string]float64{"counselor": CounselorToneHz}
	for when, span := range map[string][2]time.Time{"before the reload": {bridged, beforeReload}, "after the reload": {reloaded, afterReload}} {
		CheckHears(t, "caller", when, callerTimeline.Segment(t, callerWAV, span[0], span[1]), counselorTone, callerTone)
		CheckHears(t, "counselor", when, counselorTimeline.Segment(t, counselorWAV, span[0], span[1]), callerTone, counselorTone)
	}

	checkSRTPOnWire(t, capture, counselor.RTP.Min)
	checkNoKeysLogged(t, srv)
	checkPhoneUsedSRTP(t, counselor, 2)
}

// checkPhoneUsedSRTP checks that baresip reported AES_CM_128_HMAC_SHA1_80
// for the audio stream of each call. calls is the number of calls the
// phone made or took.
func checkPhoneUsedSRTP(t *testing.T, phone *Phone, calls int) {
	t.Helper()
	reported := 0
	for _, event := range phone.Events() {
		if event.Type == EventCallMediaEncryption && strings.HasSuffix(event.Param, "audio,AES_CM_128_HMAC_SHA1_80") {
			reported++
		}
	}
	if reported != calls {
		t.Errorf("baresip %s reported SRTP with AES_CM_128_HMAC_SHA1_80 on %d audio streams, expected %d", phone.spec.User, reported, calls)
	}
}

// checkNoKeysLogged fails the test when the server's output, at debug
// level, contains an SDES key ("inline:" starts one in an a=crypto line).
func checkNoKeysLogged(t *testing.T, srv *Server) {
	t.Helper()
	for _, line := range srv.OutputLines() {
		if strings.Contains(line, "inline:") {
			t.Errorf("the server logged an SRTP key: %s", line)
		}
	}
}

// checkSRTPOnWire checks the captured RTP to and from a phone's RTP port:
// both directions carry packets, every payload is a G.711 frame plus the
// SRTP tag, and the payloads sent to the phone look random.
func checkSRTPOnWire(t *testing.T, capture *RTPCapture, port int) {
	t.Helper()
	packets := capture.Packets(t)
	toPhone, fromPhone := packets.To(port), packets.From(port)
	if len(toPhone) < 100 || len(fromPhone) < 100 {
		t.Fatalf("captured %d packets to and %d from port %d, expected at least 100 each way", len(toPhone), len(fromPhone), port)
	}
	for _, stream := range []RTPPackets{toPhone, fromPhone} {
		for _, packet := range stream {
			if packet.PayloadLen != 160+srtpTagBytes {
				t.Fatalf("packet %s -> %s carries %d payload bytes, expected 160 bytes of G.711 and a %d-byte SRTP tag",
					packet.Src, packet.Dst, packet.PayloadLen, srtpTagBytes)
			}
		}
	}

	var counts [256]int
	total := 0
	for _, payload := range capture.Payloads(t, port) {
		for _, b := range payload {
			counts[b]++
		}
		total += len(payload)
	}
	entropy := byteEntropy(counts, total)
	t.Logf("payloads to port %d: %d bytes, %.2f bits of entropy per byte", port, total, entropy)
	if entropy < minCipherEntropy {
		t.Errorf("payloads to port %d have %.2f bits of entropy per byte, expected above %.1f for SRTP: plain G.711 on the wire?", port, entropy, minCipherEntropy)
	}
}

// byteEntropy returns the Shannon entropy of a byte histogram, in bits.
func byteEntropy(counts [256]int, total int) float64 {
	if total == 0 {
		return 0
	}
	var entropy float64
	for _, count := range counts {
		if count == 0 {
			continue
		}
		p := float64(count) / float64(total)
		entropy -= p * math.Log2(p)
	}
	return entropy
}

// A counselor's phone outside the office networks that registers over UDP
// gets 403 with a reason phrase that requires TLS, and stays unregistered.
func TestCounselorOutsideOfficeNeedsTLS(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")
	_, withTLS := WithTLS(t)
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		withTLS(cfg)
		MustSetConfig(t, cfg, "sip.secure_counselors.office_networks", []any{"10.0.0.0/8"})
		MustSetConfig(t, cfg, "sip.secure_counselors.required_outside_office", true)
	}})

	phone := StartBaresip(t, Softphone{User: "1002", Password: "demo-1002", Server: srv.Addr(), SkipRegistrationWait: true})
	srv.WaitLog(t, LogFields(map[string]any{"transport": "udp", "user": "1002",
		"message": "register rejected: the phone is outside the office networks and did not use TLS, set its account to transport=tls"}), logTimeout)
	line := phone.WaitLog(t, "403 Forbidden: TLS required outside the office", phoneTimeout)
	if !strings.Contains(line, "1002@") {
		t.Errorf("baresip reported %q, expected the 403 for account 1002", line)
	}
	status := srv.CounselorStatus(t, "1002")
	if registered, _ := status["registered"].(bool); registered {
		t.Errorf("counselor 1002 is registered after a refused REGISTER over UDP: %v", status)
	}
}

// A trunk caller whose phone offers SRTP only (RTP/SAVP with an SDES key)
// gets SRTP and reaches a counselor whose phone uses plain RTP. Both hear
// each other, and the caller's leg is SRTP on the wire.
func TestTrunkCallerWithSRTP(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")
	srv := StartServer(t, ServerOptions{Mutate: DirectQueue})
	counselor := StartTonePhone(t, srv.Addr(), "1001", "demo-1001", CounselorToneHz, true)
	srv.LoginCounselor(t, "1001")
	caller := StartBaresip(t, Softphone{
		User: "7000", Password: "not-registered", Server: srv.Addr(), SkipRegistrationWait: true,
		MediaEncryption: "srtp-mand", SourceWAV: ToneSource(t, "7000", CallerToneHz), RTPPorts: 2,
	})
	capture := Capture(t, caller.RTP.Min)

	callerTimeline, counselorTimeline, bridged := callThroughTrunk(t, srv, caller, counselor)
	bridgeEnd := Measure(4 * time.Second)

	caller.Hangup(t)
	caller.WaitEvent(t, EventCallClosed, phoneTimeout)
	counselor.WaitEvent(t, EventCallClosed, phoneTimeout)

	callerTone := map[string]float64{"caller": CallerToneHz}
	counselorTone := map[string]float64{"counselor": CounselorToneHz}
	CheckHears(t, "caller", "while bridged", callerTimeline.Segment(t, ReadRecording(t, caller, "caller"), bridged, bridgeEnd), counselorTone, callerTone)
	CheckHears(t, "counselor", "while bridged", counselorTimeline.Segment(t, ReadRecording(t, counselor, "counselor"), bridged, bridgeEnd), callerTone, counselorTone)
	checkSRTPOnWire(t, capture, caller.RTP.Min)
	checkNoKeysLogged(t, srv)
	checkPhoneUsedSRTP(t, caller, 1)
}

// callThroughTrunk has caller dial the service number 120 as the trunk,
// and waits until the counselor's phone answered and the server bridged
// the two. It returns both phones' timelines and the moment of the bridge.
func callThroughTrunk(t *testing.T, srv *Server, caller, counselor *Phone) (Timeline, Timeline, time.Time) {
	t.Helper()
	caller.Command(t, "dial", "sip:120@"+srv.Addr())
	caller.WaitEvent(t, EventCallEstablished, phoneTimeout)
	callerTimeline := Timeline{Established: time.Now()}
	counselor.WaitEvent(t, EventCallEstablished, phoneTimeout)
	counselorTimeline := Timeline{Established: time.Now()}
	srv.WaitLog(t, LogMessage("counselor answered, bridging"), logTimeout)
	return callerTimeline, counselorTimeline, time.Now()
}
