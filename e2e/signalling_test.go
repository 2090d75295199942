package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Payload sizes that tell apart what a party receives: the caller sends
// 30 ms packets, while the server's own audio (prompts, hold music) goes
// out in 20 ms packets. A relay keeps the size of the packets it relays.
const (
	callerPayload = 240
	serverPayload = 160
	fillPCMU      = 0x35
)

// observeWindow is how long a test watches the RTP of one call state.
const observeWindow = 2 * time.Second

// sdpOffer is a caller's SDP: one audio line with the given formats and
// attribute lines, at addr. The body ends with CRLF unless noFinalCRLF.
func sdpOffer(addr string, port int, formats string, attributes []string, noFinalCRLF bool) string {
	lines := []string{
		"v=0",
		"o=trunk 4242 " + fmt.Sprint(time.Now().UnixNano()%1000000) + " IN IP4 127.0.0.1",
		"s=-",
		"c=IN IP4 " + addr,
		"t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP %s", port, formats),
	}
	lines = append(lines, attributes...)
	body := strings.Join(lines, "\r\n")
	if !noFinalCRLF {
		body += "\r\n"
	}
	return body
}

// pcmuAttributes are the attribute lines of a PCMU offer with
// telephone-event on 101 and a direction.
func pcmuAttributes(direction string) []string {
	return []string{"a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:30", "a=" + direction}
}

// callerOffer is the usual PCMU offer from the caller's RTP port.
func callerOffer(call *RawCall, direction string) string {
	return sdpOffer(Loopback, call.RTPPort(), "0 101", pcmuAttributes(direction), false)
}

// wantStatus fails unless res has the status.
func wantStatus(t *testing.T, what string, res []byte, want int) {
	t.Helper()
	if got := SIPStatus(res); got != want {
		t.Fatalf("%s answered %d, want %d\n%s", what, got, want, res)
	}
}

// answeredCall places a raw call that is answered and acknowledged.
func answeredCall(t *testing.T, srv *Server, transport string, headers []string) *RawCall {
	t.Helper()
	call := DialRaw(t, srv, transport)
	wantStatus(t, "INVITE", call.Invite(headers, callerOffer(call, "sendrecv")), 200)
	call.SendRTP(0, callerPayload, fillPCMU)
	return call
}

// queueRawCall presses 5 (Korean) and 1 (calling about oneself) and
// waits until the caller is queued.
func queueRawCall(t *testing.T, srv *Server, call *RawCall) {
	t.Helper()
	call.Digit(t, "5")
	srv.WaitLog(t, LogFields(map[string]any{"message": "ivr attribute set", "key": "language", "call_id": call.CallID()}), logTimeout)
	call.Digit(t, "1")
	srv.WaitLog(t, LogFields(map[string]any{"message": "caller queued", "call_id": call.CallID()}), logTimeout)
}

// bridgedCall places a raw call that a baresip counselor answers, and
// returns it with the port where the counselor's phone receives RTP.
func bridgedCall(t *testing.T, srv *Server, user string) (*RawCall, *Phone, int) {
	t.Helper()
	phone := counselorPhone(t, srv, user, true)
	call := answeredCall(t, srv, "udp", nil)
	queueRawCall(t, srv, call)
	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor answered, bridging", "call_id": call.CallID()}), logTimeout)

	started := srv.WaitLog(t, LogFields(map[string]any{"message": "rtp session started", "call_id": call.CallID(), "counselor": user}), logTimeout)
	remote, _ := started["remote"].(string)
	port := 0
	if _, text, ok := strings.Cut(remote, ":"); ok {
		fmt.Sscan(text, &port)
	}
	if port < phone.RTP.Min || port > phone.RTP.Max {
		t.Fatalf("counselor leg's remote %q is not in the phone's RTP range %v", remote, phone.RTP)
	}
	return call, phone, port
}

// sdpDirection returns the first a= direction of an SDP body.
func sdpDirection(sdp string) string {
	for _, line := range strings.Split(sdp, "\r\n") {
		switch line {
		case "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive":
			return strings.TrimPrefix(line, "a=")
		}
	}
	return "sendrecv"
}

// mLines returns the m= lines of an SDP body.
func mLines(sdp string) []string {
	var lines []string
	for _, line := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(line, "m=") {
			lines = append(lines, line)
		}
	}
	return lines
}

// wantHoldAnswer checks the answer to a hold offer: recvonly or
// inactive, at the server's real address.
func wantHoldAnswer(t *testing.T, res []byte) {
	t.Helper()
	body := SIPBody(res)
	if dir := sdpDirection(body); dir != "recvonly" && dir != "inactive" {
		t.Errorf("hold answered with a=%s, want recvonly or inactive\n%s", dir, body)
	}
	addr, ok := SDPAudioAddr(body)
	if !ok || addr.Addr().String() != Loopback {
		t.Errorf("hold answer's media address = %v, want the server's real address %s\n%s", addr, Loopback, body)
	}
}

// payloadSizes counts packets by payload size.
func payloadSizes(packets RTPPackets) map[int]int {
	sizes := map[int]int{}
	for _, p := range packets {
		sizes[p.PayloadLen]++
	}
	return sizes
}

// S1: the caller holds with a=sendonly (no final CRLF), then with the old
// c=0.0.0.0, then resumes with a=sendrecv. Each hold is answered recvonly
// or inactive at the server's address; while on hold the caller gets no
// RTP (none to 0.0.0.0 either, which Linux would deliver to the caller's
// loopback socket), and the counselor hears the hold music instead of
// silence. The resume restores two-way audio.
func TestCallerHoldPlaysMusicToCounselor(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	call, _, counselorPort := bridgedCall(t, srv, "1001")
	capture := Capture(t, counselorPort)

	hold := sdpOffer(Loopback, call.RTPPort(), "0 101", pcmuAttributes("sendonly"), true)
	res := call.Reinvite(nil, hold)
	wantStatus(t, "re-INVITE with a=sendonly", res, 200)
	wantHoldAnswer(t, res)
	srv.WaitLog(t, LogFields(map[string]any{"message": "hold music playing", "listener": "counselor", "call_id": call.CallID()}), logTimeout)
	heldFrom := time.Now().Add(300 * time.Millisecond)
	time.Sleep(observeWindow)

	oldStyle := sdpOffer("0.0.0.0", call.RTPPort(), "0 101", pcmuAttributes("sendrecv"), false)
	res = call.Reinvite(nil, oldStyle)
	wantStatus(t, "re-INVITE with c=0.0.0.0", res, 200)
	wantHoldAnswer(t, res)
	time.Sleep(observeWindow)
	heldTo := time.Now()

	res = call.Reinvite(nil, callerOffer(call, "sendrecv"))
	wantStatus(t, "resume re-INVITE", res, 200)
	if dir := sdpDirection(SIPBody(res)); dir != "sendrecv" {
		t.Errorf("resume answered with a=%s, want sendrecv", dir)
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": "call resumed", "call_id": call.CallID()}), logTimeout)
	resumedFrom := time.Now().Add(300 * time.Millisecond)
	time.Sleep(observeWindow)
	resumedTo := time.Now()
	wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
	capture.Stop(t)

	if got := call.ReceivedRTP(heldFrom, heldTo); len(got) != 0 {
		t.Errorf("caller on hold received %d RTP packets, want none (first from %v)", len(got), got[0].Source)
	}
	if got := call.ReceivedRTP(resumedFrom, resumedTo); len(got) < 50 {
		t.Errorf("caller received %d RTP packets in %s after resuming, want the counselor's audio (50 or more)", len(got), observeWindow)
	}

	toCounselor := capture.Packets(t).To(counselorPort)
	during := toCounselor.Filter(func(p RTPPacket) bool { return p.Time.After(heldFrom) && p.Time.Before(heldTo) })
	if sizes := payloadSizes(during); sizes[serverPayload] < 100 || sizes[callerPayload] != 0 {
		t.Errorf("counselor got packets of sizes %v during the hold, want the server's music (100 or more of %d bytes) and none of the caller's %d-byte packets",
			sizes, serverPayload, callerPayload)
	}
	after := toCounselor.Filter(func(p RTPPacket) bool { return p.Time.After(resumedFrom) && p.Time.Before(resumedTo) })
	if sizes := payloadSizes(after); sizes[callerPayload] < 30 {
		t.Errorf("counselor got packets of sizes %v after the resume, want the caller's %d-byte packets again (30 or more)", sizes, callerPayload)
	}
	if err := CheckContinuous(toCounselor.Filter(func(p RTPPacket) bool { return p.Time.After(heldFrom) })); err != nil {
		t.Errorf("stream to the counselor across hold and resume: %v", err)
	}
}

// S1 from the other side: when the counselor's phone holds the call, the
// caller hears the hold music, and after the resume the counselor again.
func TestCounselorHoldPlaysMusicToCaller(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	call, phone, _ := bridgedCall(t, srv, "1002")

	phone.Command(t, "hold", "")
	srv.WaitLog(t, LogFields(map[string]any{"message": "hold music playing", "listener": "caller", "call_id": call.CallID()}), logTimeout)
	from := time.Now().Add(300 * time.Millisecond)
	time.Sleep(observeWindow)
	if got := call.ReceivedRTP(from, time.Now()); len(got) < 50 {
		t.Errorf("caller received %d RTP packets in %s while the counselor held, want the hold music (50 or more)", len(got), observeWindow)
	}

	phone.Command(t, "resume", "")
	srv.WaitLog(t, LogFields(map[string]any{"message": "call resumed", "by": "counselor", "call_id": call.CallID()}), logTimeout)
	wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
}

// S2: a re-INVITE without m= lines gets 200 with an answer without any;
// the dialog stays up, and a later offer brings the media back.
func TestReinviteWithoutMedia(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	call := answeredCall(t, srv, "udp", nil)

	empty := "v=0\r\no=trunk 4242 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	res := call.Reinvite(nil, empty)
	wantStatus(t, "re-INVITE without m= lines", res, 200)
	if lines := mLines(SIPBody(res)); len(lines) != 0 {
		t.Errorf("answer has m= lines %q, want none like the offer", lines)
	}
	time.Sleep(300 * time.Millisecond)
	quietFrom := time.Now()
	time.Sleep(observeWindow)
	if got := call.ReceivedRTP(quietFrom, time.Now()); len(got) != 0 {
		t.Errorf("caller received %d RTP packets with no stream negotiated, want none", len(got))
	}

	call.Digit(t, "5") // the dialog is still up
	res = call.Reinvite(nil, callerOffer(call, "sendrecv"))
	wantStatus(t, "re-INVITE with media again", res, 200)
	if lines := mLines(SIPBody(res)); len(lines) != 1 || !strings.HasPrefix(lines[0], "m=audio ") {
		t.Errorf("answer's m= lines = %q, want one audio line", lines)
	}
	from := time.Now().Add(300 * time.Millisecond)
	time.Sleep(observeWindow)
	if got := call.ReceivedRTP(from, time.Now()); len(got) < 50 {
		t.Errorf("caller received %d RTP packets after the new offer, want the IVR's audio (50 or more)", len(got))
	}
	wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
}

// S3: a call on PCMU re-offers only PT 8 and 96 (telephone-event). The
// server switches to PCMA and answers PT 8; the counselor's phone stays on
// PCMU, so the relay transcodes toward it. An offer with no usable codec
// then gets 488 and the PCMA session stays.
func TestCodecChangeMidCall(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	call, _, counselorPort := bridgedCall(t, srv, "1003")
	capture := Capture(t, counselorPort)

	pcma := sdpOffer(Loopback, call.RTPPort(), "8 96", []string{"a=rtpmap:8 PCMA/8000", "a=rtpmap:96 telephone-event/8000", "a=fmtp:96 0-15", "a=sendrecv"}, false)
	res := call.Reinvite(nil, pcma)
	wantStatus(t, "re-INVITE offering PT 8 and 96", res, 200)
	if lines := mLines(SIPBody(res)); len(lines) != 1 || !strings.HasSuffix(lines[0], "RTP/AVP 8 96") {
		t.Fatalf("answer's m= lines = %q, want PT 8 with telephone-event 96", lines)
	}
	call.SendRTP(8, callerPayload, 0xd5)
	switched := time.Now().Add(500 * time.Millisecond)
	time.Sleep(observeWindow)

	g729 := sdpOffer(Loopback, call.RTPPort(), "18", []string{"a=rtpmap:18 G729/8000", "a=sendrecv"}, false)
	wantStatus(t, "re-INVITE offering only G.729", call.Reinvite(nil, g729), 488)
	rejected := time.Now().Add(300 * time.Millisecond)
	time.Sleep(observeWindow)
	end := time.Now()
	wantStatus(t, "INFO after the 488", call.Request("INFO", nil, "application/dtmf", "1"), 200)
	wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
	capture.Stop(t)

	for _, window := range []struct {
		name     string
		from, to time.Time
	}{{"after the switch", switched, rejected}, {"after the 488", rejected, end}} {
		got := call.ReceivedRTP(window.from, window.to)
		pcmaPackets := 0
		for _, p := range got {
			if p.PayloadType == 8 {
				pcmaPackets++
			}
		}
		if pcmaPackets < 50 || pcmaPackets != len(got) {
			t.Errorf("%s the caller received %d packets, %d of them PT 8, want all PCMA (50 or more)", window.name, len(got), pcmaPackets)
		}
	}

	relayed := capture.Packets(t).To(counselorPort).Filter(func(p RTPPacket) bool {
		return p.Time.After(switched) && p.Time.Before(end) && p.PayloadLen == callerPayload
	})
	if len(relayed) < 30 || len(relayed.WithPT(0)) != len(relayed) {
		t.Errorf("counselor got %d of the caller's packets after the switch, %d as PT 0: want them transcoded to PCMU (30 or more)",
			len(relayed), len(relayed.WithPT(0)))
	}
}

// s5Offer is an offer with an SRTP audio line first, then plain RTP with
// PCMU and telephone-event, then video.
func s5Offer(port int) string {
	return strings.Join([]string{
		"v=0", "o=trunk 4242 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		fmt.Sprintf("m=audio %d RTP/SAVP 0", port+2),
		"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
		fmt.Sprintf("m=audio %d RTP/AVP 0 101", port),
		"a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15",
		fmt.Sprintf("m=video %d RTP/AVP 96", port+4),
		"a=rtpmap:96 H264/90000",
	}, "\r\n") + "\r\n"
}

// wantS5Answer checks three m= lines in the offer's order: the SRTP line
// with a crypto suite the server does not support and the video line
// rejected with port 0, the plain audio line accepted.
func wantS5Answer(t *testing.T, res []byte) {
	t.Helper()
	lines := mLines(SIPBody(res))
	if len(lines) != 3 {
		t.Fatalf("answer has %d m= lines %q, want 3 in the offer's order", len(lines), lines)
	}
	if !strings.HasPrefix(lines[0], "m=audio 0 RTP/SAVP") {
		t.Errorf("first m= line %q, want the SRTP line rejected with port 0", lines[0])
	}
	if strings.HasPrefix(lines[1], "m=audio 0 ") || !strings.Contains(lines[1], "RTP/AVP 0 101") {
		t.Errorf("second m= line %q, want the plain RTP line accepted with PCMU and telephone-event", lines[1])
	}
	if !strings.HasPrefix(lines[2], "m=video 0 ") {
		t.Errorf("third m= line %q, want video rejected with port 0", lines[2])
	}
}

// S5: several m= lines on the INVITE and on a re-INVITE.
func TestSeveralMediaLines(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	call := DialRaw(t, srv, "udp")
	res := call.Invite(nil, s5Offer(call.RTPPort()))
	wantStatus(t, "INVITE", res, 200)
	wantS5Answer(t, res)

	res = call.Reinvite(nil, s5Offer(call.RTPPort()))
	wantStatus(t, "re-INVITE", res, 200)
	wantS5Answer(t, res)
	wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
}

// noAckCall places a raw call whose 200 OK is never acknowledged, and
// queues it.
func noAckCall(t *testing.T, srv *Server) *RawCall {
	t.Helper()
	call := DialRaw(t, srv, "udp")
	res := call.Request("INVITE", nil, "application/sdp", callerOffer(call, "sendrecv"))
	wantStatus(t, "INVITE", res, 200)
	call.toTag = tagOf(SIPHeader(res, "To"))
	call.takeAnswer(res)
	call.SendRTP(0, callerPayload, fillPCMU)
	queueRawCall(t, srv, call)
	return call
}

// T3: a caller whose ACK never arrives gets BYE after 64×T1, and so does
// the counselor talking to it. The counselor answers the next caller, and
// a caller who was still queued leaves the queue: a counselor who logs in
// afterwards is never offered that call.
func TestMissingAckFreesCounselorAndQueue(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")

	t.Run("talking to a counselor", func(t *testing.T) {
		t.Parallel()
		srv := StartServer(t, ServerOptions{Mutate: fastQueue("1s")})
		phone := counselorPhone(t, srv, "1001", true)

		call := noAckCall(t, srv)
		srv.WaitLog(t, LogFields(map[string]any{"message": "counselor answered, bridging", "call_id": call.CallID()}), logTimeout)
		call.WaitRequest(t, "BYE", 60*time.Second)
		phone.WaitEvent(t, "CALL_CLOSED", phoneTimeout)
		rec := waitEndedRecord(t, srv, call.CallID())
		wantRecord(t, rec, map[string]string{"outcome": "failed", "hangup_side": "server", "counselor": "1001"})

		next := answeredCall(t, srv, "udp", nil)
		queueRawCall(t, srv, next)
		srv.WaitLog(t, LogFields(map[string]any{"message": "counselor answered, bridging", "call_id": next.CallID(), "counselor": "1001"}), logTimeout)
		wantStatus(t, "BYE", next.Request("BYE", nil, "", ""), 200)
	})

	t.Run("waiting in the queue", func(t *testing.T) {
		t.Parallel()
		srv := StartServer(t, ServerOptions{Mutate: fastQueue("1s")})

		call := noAckCall(t, srv)
		call.WaitRequest(t, "BYE", 60*time.Second)
		rec := waitEndedRecord(t, srv, call.CallID())
		wantRecord(t, rec, map[string]string{"outcome": "failed", "hangup_side": "server"})

		counselorPhone(t, srv, "1002", true)
		next := answeredCall(t, srv, "udp", nil)
		queueRawCall(t, srv, next)
		srv.WaitLog(t, LogFields(map[string]any{"message": "counselor answered, bridging", "call_id": next.CallID(), "counselor": "1002"}), logTimeout)
		wantStatus(t, "BYE", next.Request("BYE", nil, "", ""), 200)
		for _, entry := range srv.Logs() {
			if entry["message"] == "ringing counselor" && entry["call_id"] == call.CallID() {
				t.Errorf("counselor rung for the call that ended without an ACK: its queue slot was kept")
			}
		}
	})
}

// shortTimers lets sessions expire within seconds: sip.min_se below the
// RFC 4028 floor loads with a warning.
func shortTimers(t *testing.T) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		MustSetConfig(t, cfg, "sip.min_se", "2s")
		fastQueue("1s")(cfg)
	}
}

// T5: Session-Expires below Min-SE gets 422 with Min-SE.
func TestSessionIntervalTooSmall(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	call := DialRaw(t, srv, "udp")
	res := call.Invite([]string{"Supported: timer", "Session-Expires: 60;refresher=uac"}, callerOffer(call, "sendrecv"))
	wantStatus(t, "INVITE with Session-Expires: 60", res, 422)
	if got := SIPHeader(res, "Min-SE"); got != "90" {
		t.Errorf("Min-SE = %q, want 90 (sip.min_se)", got)
	}
}

// T5: the caller refreshes with UPDATE without SDP and with a re-INVITE;
// each refresh gets 200 with Session-Expires and Require: timer, and the
// call outlives its first interval. Once the refreshes stop, the server
// ends the session with BYE on both legs and frees the counselor.
func TestSessionTimerRefreshAndExpiry(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")
	srv := StartServer(t, ServerOptions{Mutate: shortTimers(t)})
	phone := counselorPhone(t, srv, "1001", true)

	call := DialRaw(t, srv, "udp")
	res := call.Invite([]string{"Supported: timer", "Session-Expires: 12;refresher=uac"}, callerOffer(call, "sendrecv"))
	wantStatus(t, "INVITE", res, 200)
	if got := SIPHeader(res, "Session-Expires"); got != "12;refresher=uac" {
		t.Errorf("200 OK Session-Expires = %q, want 12;refresher=uac", got)
	}
	if got := SIPHeader(res, "Require"); got != "timer" {
		t.Errorf("200 OK Require = %q, want timer", got)
	}
	call.SendRTP(0, callerPayload, fillPCMU)
	queueRawCall(t, srv, call)
	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor answered, bridging", "call_id": call.CallID()}), logTimeout)

	// The IVR took about 4 s of the 12; refresh now and then every 4 s,
	// until well past the first interval.
	for i := range 5 {
		if i > 0 {
			time.Sleep(4 * time.Second)
		}
		headers := []string{"Supported: timer", "Session-Expires: 12;refresher=uac"}
		var res []byte
		if i == 2 {
			res = call.Reinvite(headers, callerOffer(call, "sendrecv"))
		} else {
			res = call.Request("UPDATE", headers, "", "")
		}
		wantStatus(t, fmt.Sprintf("refresh %d", i+1), res, 200)
		if got := SIPHeader(res, "Session-Expires"); got != "12;refresher=uac" {
			t.Errorf("refresh %d: Session-Expires = %q, want 12;refresher=uac", i+1, got)
		}
		if got := SIPHeader(res, "Require"); got != "timer" {
			t.Errorf("refresh %d: Require = %q, want timer", i+1, got)
		}
	}
	for _, method := range call.Requests() {
		if method == "BYE" {
			t.Fatal("the server sent BYE although the caller refreshed every 4 s of 12")
		}
	}

	stopped := time.Now()
	call.WaitRequest(t, "BYE", 30*time.Second)
	if waited := time.Since(stopped); waited > 12*time.Second {
		t.Errorf("BYE came %s after the last refresh, want within the 12 s interval", waited)
	}
	phone.WaitEvent(t, "CALL_CLOSED", phoneTimeout)
	rec := waitEndedRecord(t, srv, call.CallID())
	wantRecord(t, rec, map[string]string{"hangup_side": "server", "counselor": "1001"})
	if reason := recordField(rec, "hangup_reason"); !strings.Contains(reason, "session timer expired") {
		t.Errorf("hangup_reason = %q, want the session timer's expiry", reason)
	}

	next := answeredCall(t, srv, "udp", nil)
	queueRawCall(t, srv, next)
	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor answered, bridging", "call_id": next.CallID(), "counselor": "1001"}), logTimeout)
	wantStatus(t, "BYE", next.Request("BYE", nil, "", ""), 200)
}

// T5 with refresher=uas: the server refreshes with UPDATE at half the
// interval, and the call goes on.
func TestSessionTimerServerRefreshes(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{Mutate: shortTimers(t)})
	call := DialRaw(t, srv, "udp")
	res := call.Invite([]string{"Supported: timer", "Session-Expires: 4;refresher=uas"}, callerOffer(call, "sendrecv"))
	wantStatus(t, "INVITE", res, 200)
	if got := SIPHeader(res, "Session-Expires"); got != "4;refresher=uas" {
		t.Errorf("Session-Expires = %q, want 4;refresher=uas", got)
	}
	call.WaitRequest(t, "UPDATE", 20*time.Second)
	call.WaitRequest(t, "UPDATE", 20*time.Second)
	for _, method := range call.Requests() {
		if method == "BYE" {
			t.Errorf("server sent BYE while it refreshed the session itself")
		}
	}
	wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
}

// T6: Require: 100rel gets 420 with Unsupported: 100rel, as does any other
// required option tag the server lacks; Supported: 100rel is served.
func TestRequiredExtensions(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	tests := []struct {
		name            string
		headers         []string
		want            int
		wantUnsupported string
	}{
		{"Require 100rel", []string{"Require: 100rel", "Supported: 100rel"}, 420, "100rel"},
		{"Require unknown with timer", []string{"Supported: timer", "Require: timer, foo"}, 420, "foo"},
		{"Supported 100rel", []string{"Supported: 100rel, timer"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := DialRaw(t, srv, "udp")
			res := call.Invite(tt.headers, callerOffer(call, "sendrecv"))
			wantStatus(t, "INVITE", res, tt.want)
			if got := SIPHeader(res, "Unsupported"); got != tt.wantUnsupported {
				t.Errorf("Unsupported = %q, want %q", got, tt.wantUnsupported)
			}
			if tt.want == 200 {
				wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
			}
		})
	}
}

// largeOffer is an SDP offer padded past 1300 bytes with attributes a
// gateway might send.
func largeOffer(call *RawCall) string {
	attributes := pcmuAttributes("sendrecv")
	for i := range 30 {
		attributes = append(attributes, fmt.Sprintf("a=x-gateway-trace:%02d 0123456789abcdef0123456789abcdef", i))
	}
	return sdpOffer(Loopback, call.RTPPort(), "0 101", attributes, false)
}

// N2: over TCP from an ephemeral port every response comes back on the
// same connection; over UDP an INVITE larger than 1300 bytes, with a
// large SDP and many Via headers that the 200 must copy, is answered.
func TestLargeAndTCPRequests(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})

	t.Run("tcp", func(t *testing.T) {
		call := DialRaw(t, srv, "tcp")
		wantStatus(t, "OPTIONS over TCP", call.Request("OPTIONS", nil, "", ""), 200)
		offer := largeOffer(call)
		res := call.Invite(nil, offer)
		wantStatus(t, fmt.Sprintf("INVITE of %d-byte SDP over TCP", len(offer)), res, 200)
		call.Digit(t, "5")
		wantStatus(t, "BYE over TCP", call.Request("BYE", nil, "", ""), 200)
	})

	t.Run("tcp request from the server", func(t *testing.T) {
		// With refresher=uas the server sends UPDATE, which must come over
		// the caller's own connection.
		timers := StartServer(t, ServerOptions{Mutate: shortTimers(t)})
		call := DialRaw(t, timers, "tcp")
		res := call.Invite([]string{"Supported: timer", "Session-Expires: 4;refresher=uas"}, callerOffer(call, "sendrecv"))
		wantStatus(t, "INVITE over TCP", res, 200)
		call.WaitRequest(t, "UPDATE", 20*time.Second)
		wantStatus(t, "BYE over TCP", call.Request("BYE", nil, "", ""), 200)
	})

	t.Run("udp larger than 1300 bytes", func(t *testing.T) {
		call := DialRaw(t, srv, "udp")
		var proxies []string
		for i := range 12 {
			proxies = append(proxies, fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.%d:5060;branch=z9hG4bKproxy%02d%s;received=127.0.0.1", i+2, i, randomID(t)))
		}
		offer := largeOffer(call)
		message := call.build("INVITE", 1, randomID(t), proxies, "application/sdp", offer)
		if len(message) <= 1300 {
			t.Fatalf("test INVITE is %d bytes, want more than 1300", len(message))
		}
		call.cseq = 1
		call.send(message)
		res := call.waitFinal("INVITE", 1)
		wantStatus(t, fmt.Sprintf("INVITE of %d bytes over UDP", len(message)), res, 200)
		if got := len(sipHeaders(res, "Via")); got != 13 {
			t.Errorf("200 OK carries %d Via headers, want all 13", got)
		}
		call.toTag = tagOf(SIPHeader(res, "To"))
		call.Ack()
		wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
	})
}

// S3 and S2 from the counselor's side: a SIPp counselor phone re-offers
// PCMA only (answered PT 8 while the caller stays on PCMU), then an offer
// without m= lines (answered without any, and the caller hears the hold
// music), then PCMU again (the bridge resumes). SIPp checks each answer.
func TestCounselorReoffersSession(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	phone := sippCounselor(t, srv, "1002", "uas_reinvite.xml")

	call := answeredCall(t, srv, "udp", nil)
	queueRawCall(t, srv, call)
	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor answered, bridging", "call_id": call.CallID()}), logTimeout)
	srv.WaitLog(t, LogFields(map[string]any{"message": "rtp format changed", "codec": "PCMA", "counselor": "1002"}), logTimeout)
	srv.WaitLog(t, LogFields(map[string]any{"message": "call held", "by": "counselor", "call_id": call.CallID()}), logTimeout)
	srv.WaitLog(t, LogFields(map[string]any{"message": "hold music playing", "listener": "caller", "call_id": call.CallID()}), logTimeout)
	srv.WaitLog(t, LogFields(map[string]any{"message": "call resumed", "by": "counselor", "call_id": call.CallID()}), logTimeout)

	for _, p := range call.ReceivedRTP(time.Time{}, time.Now()) {
		if p.PayloadType != 0 {
			t.Errorf("caller received payload type %d, want PCMU (0) throughout: only the counselor's leg changed codec", p.PayloadType)
			break
		}
	}
	wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
	if result := phone.Wait(t); result.ExitCode != 0 {
		t.Errorf("the counselor's SIPp phone saw a wrong answer:\n%s", result.Report())
	}
}

// T5 with SIPp as the caller: Session-Expires 12 with refresher=uac, three
// UPDATE refreshes 4 s apart, then none. SIPp checks that the 200 OK and
// each refresh's 200 carry Session-Expires and Require: timer, and the
// server's BYE ends the session after the refreshes stop.
func TestSessionTimerWithSipp(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: shortTimers(t)})
	result := RunSipp(t, SippOptions{
		Scenario: "uac_session_timer.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"se": "12", "refresh_ms": "4000"},
		Timeout:  90 * time.Second,
	})

	for _, want := range []string{
		"200 OK with Session-Expires 12;refresher=uac and Require timer",
		"refresh 3 answered with Session-Expires 12;refresher=uac and Require timer",
		"the server ended the session with BYE",
	} {
		if !strings.Contains(result.Log, want) {
			t.Errorf("SIPp log lacks %q:\n%s", want, result.Log)
		}
	}
	if result.Duration < 14*time.Second {
		t.Errorf("call lasted %s, want it to outlive its first 12 s interval through the refreshes", result.Duration)
	}
	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"hangup_side": "server", "outcome": "abandoned_in_queue"})
	if reason := recordField(rec, "hangup_reason"); !strings.Contains(reason, "session timer expired") {
		t.Errorf("hangup_reason = %q, want the session timer's expiry", reason)
	}
}
