package sip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/media"
	"helpline/queue"
	"helpline/records"
	"helpline/routing"
)

// referFixture is a server with one call whose counselor leg is in the
// dialog table, without sockets.
type referFixture struct {
	srv       *Server
	call      *call
	counselor *outboundLeg
	caller    *inboundLeg
}

func newReferFixture(t *testing.T, opts Options) *referFixture {
	t.Helper()
	srv := &Server{
		opts:    opts,
		log:     zerolog.Nop(),
		dialogs: newDialogTable(),
		calls:   newCallTable(),
		events:  events.Nop{},
		queue:   queue.NewMemoryStore(),
	}
	ctx, end := context.WithCancelCause(context.Background())
	t.Cleanup(func() { end(nil) })

	c := &call{id: "call-1", srv: srv, log: zerolog.Nop(), ctx: ctx, end: end, phase: phaseTalking, counselorID: "1001"}
	counselor := &outboundLeg{srv: srv, log: zerolog.Nop(), handler: c,
		dialog: &dialogState{key: dialogKey{callID: "leg-1", localTag: "ours", remoteTag: "phone"}}}
	caller := &inboundLeg{srv: srv, log: zerolog.Nop(), handler: c,
		dialog: &dialogState{key: dialogKey{callID: "call-1", localTag: "ours-in", remoteTag: "trunk"}}}
	c.peer = counselor
	c.caller = caller
	srv.dialogs.add(counselor.dialog.key, counselor)
	srv.dialogs.add(caller.dialog.key, caller)
	return &referFixture{srv: srv, call: c, counselor: counselor, caller: caller}
}

// newRefer builds a REFER inside the dialog key names, from the peer's side.
func newRefer(key dialogKey, headers ...sipmsg.Header) *sipmsg.Request {
	req := sipmsg.NewRequest(sipmsg.REFER, sipmsg.Uri{Scheme: "sip", User: "helpline", Host: "127.0.0.1"})
	from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}, Params: sipmsg.NewParams()}
	from.Params.Add("tag", key.remoteTag)
	to := &sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: "helpline", Host: "127.0.0.1"}, Params: sipmsg.NewParams()}
	if key.localTag != "" {
		to.Params.Add("tag", key.localTag)
	}
	callID := sipmsg.CallIDHeader(key.callID)
	req.AppendHeader(sipmsg.NewHeader("Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-refer"))
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: 2, MethodName: sipmsg.REFER})
	for _, h := range headers {
		req.AppendHeader(h)
	}
	return req
}

func referTo(value string) sipmsg.Header { return sipmsg.NewHeader("Refer-To", value) }

// onlyResponse returns the one response sent on tx.
func onlyResponse(t *testing.T, tx *recordingTx) *sipmsg.Response {
	t.Helper()
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if len(tx.responses) != 1 {
		t.Fatalf("sent %d responses, want 1", len(tx.responses))
	}
	return tx.responses[0]
}

func TestHandleReferRejects(t *testing.T) {
	allowed := Options{AllowedTargets: []string{"119"}, OutboundURI: "sip:gw@127.0.0.1:5070"}
	tests := []struct {
		name       string
		key        func(f *referFixture) dialogKey
		prepare    func(f *referFixture)
		headers    []sipmsg.Header
		wantStatus int
		wantText   string
	}{
		{
			name:       "outside any dialog",
			key:        func(*referFixture) dialogKey { return dialogKey{callID: "leg-1", remoteTag: "phone"} },
			headers:    []sipmsg.Header{referTo("<sip:119@127.0.0.1>")},
			wantStatus: sipmsg.StatusCallTransactionDoesNotExists,
		},
		{
			name:       "unknown dialog",
			key:        func(*referFixture) dialogKey { return dialogKey{callID: "other", localTag: "x", remoteTag: "y"} },
			headers:    []sipmsg.Header{referTo("<sip:119@127.0.0.1>")},
			wantStatus: sipmsg.StatusCallTransactionDoesNotExists,
		},
		{
			name:       "from the caller",
			key:        func(f *referFixture) dialogKey { return f.caller.dialog.key },
			headers:    []sipmsg.Header{referTo("<sip:119@127.0.0.1>")},
			wantStatus: sipmsg.StatusForbidden,
			wantText:   "only the counselor",
		},
		{
			name:       "missing Refer-To",
			key:        func(f *referFixture) dialogKey { return f.counselor.dialog.key },
			wantStatus: sipmsg.StatusBadRequest,
			wantText:   "Refer-To",
		},
		{
			name:       "two Refer-To headers",
			key:        func(f *referFixture) dialogKey { return f.counselor.dialog.key },
			headers:    []sipmsg.Header{referTo("<sip:119@h>"), referTo("<sip:112@h>")},
			wantStatus: sipmsg.StatusBadRequest,
		},
		{
			name:       "invalid Refer-To",
			key:        func(f *referFixture) dialogKey { return f.counselor.dialog.key },
			headers:    []sipmsg.Header{referTo("<sip:fire@127.0.0.1>")},
			wantStatus: sipmsg.StatusBadRequest,
			wantText:   "not a phone number",
		},
		{
			name:       "attended transfer",
			key:        func(f *referFixture) dialogKey { return f.counselor.dialog.key },
			headers:    []sipmsg.Header{referTo("<sip:119@h?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2>")},
			wantStatus: sipmsg.StatusNotImplemented,
		},
		{
			name:       "target not allowed",
			key:        func(f *referFixture) dialogKey { return f.counselor.dialog.key },
			headers:    []sipmsg.Header{referTo("<sip:01099998888@127.0.0.1>")},
			wantStatus: sipmsg.StatusForbidden,
			wantText:   "trunk.allowed_targets",
		},
		{
			name:       "transfer already ringing",
			key:        func(f *referFixture) dialogKey { return f.counselor.dialog.key },
			prepare:    func(f *referFixture) { f.call.refer = &referTransfer{from: f.counselor, gone: make(chan struct{})} },
			headers:    []sipmsg.Header{referTo("<sip:119@127.0.0.1>")},
			wantStatus: sipmsg.StatusRequestPending,
		},
		{
			name:       "caller still queued",
			key:        func(f *referFixture) dialogKey { return f.counselor.dialog.key },
			prepare:    func(f *referFixture) { f.call.phase = phaseQueued },
			headers:    []sipmsg.Header{referTo("<sip:119@127.0.0.1>")},
			wantStatus: sipmsg.StatusForbidden,
		},
		{
			name:       "call already ended",
			key:        func(f *referFixture) dialogKey { return f.counselor.dialog.key },
			prepare:    func(f *referFixture) { f.call.phase = phaseEnded },
			headers:    []sipmsg.Header{referTo("<sip:119@127.0.0.1>")},
			wantStatus: sipmsg.StatusCallTransactionDoesNotExists,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newReferFixture(t, allowed)
			if tt.prepare != nil {
				tt.prepare(f)
			}
			tx := newRecordingTx()

			f.srv.handleRefer(newRefer(tt.key(f), tt.headers...), tx)

			res := onlyResponse(t, tx)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d %s, want %d", res.StatusCode, res.Reason, tt.wantStatus)
			}
			warning := res.GetHeader("Warning")
			if warning == nil {
				t.Fatalf("response has no Warning header:\n%s", res)
			}
			if !strings.Contains(warning.Value(), tt.wantText) {
				t.Errorf("Warning = %q, want it to contain %q", warning.Value(), tt.wantText)
			}
		})
	}
}

func TestHandleReferTargetNotAllowedReason(t *testing.T) {
	f := newReferFixture(t, Options{AllowedTargets: []string{"119"}})
	tx := newRecordingTx()

	f.srv.handleRefer(newRefer(f.counselor.dialog.key, referTo("<sip:112@127.0.0.1>")), tx)

	res := onlyResponse(t, tx)
	if res.StatusCode != sipmsg.StatusForbidden || res.Reason != "Transfer Target Not Allowed" {
		t.Errorf("response = %d %s, want 403 Transfer Target Not Allowed", res.StatusCode, res.Reason)
	}
	if f.call.refer != nil {
		t.Error("a rejected REFER left a transfer on the call")
	}
}

func TestHandleReferWithoutRouteFailsCleanly(t *testing.T) {
	f := newReferFixture(t, Options{AllowedTargets: []string{"119"}})
	tx := newRecordingTx()

	f.srv.handleRefer(newRefer(f.counselor.dialog.key, referTo("<sip:119@127.0.0.1>"), sipmsg.NewHeader("Refer-Sub", "false")), tx)
	f.srv.tasks.Wait()

	res := onlyResponse(t, tx)
	if res.StatusCode != sipmsg.StatusAccepted {
		t.Fatalf("status = %d %s, want 202", res.StatusCode, res.Reason)
	}
	if h := res.GetHeader("Refer-Sub"); h == nil || h.Value() != "false" {
		t.Errorf("202 lacks Refer-Sub: false for a REFER that asked for no subscription:\n%s", res)
	}
	f.call.mu.Lock()
	defer f.call.mu.Unlock()
	if f.call.refer != nil {
		t.Error("the failed transfer is still on the call")
	}
	if f.call.phase != phaseTalking || f.call.peer != f.counselor {
		t.Errorf("phase %d, peer %p: want the caller still talking to the counselor", f.call.phase, f.call.peer)
	}
	if f.call.ctx.Err() != nil {
		t.Errorf("the call ended: %v", context.Cause(f.call.ctx))
	}
}

func TestReferLegHangupKeepsCallerDuringTransfer(t *testing.T) {
	f := newReferFixture(t, Options{})
	transfer := &referTransfer{from: f.counselor, gone: make(chan struct{}), log: zerolog.Nop()}
	f.call.refer = transfer

	f.call.legHangup(f.counselor, reasonBye)

	if f.call.ctx.Err() != nil {
		t.Errorf("the counselor's BYE during a transfer ended the call: %v", context.Cause(f.call.ctx))
	}
	if !transfer.isGone() {
		t.Error("the transfer does not know the counselor hung up")
	}
}

func TestReferLegHangupWithoutTransferEndsCall(t *testing.T) {
	f := newReferFixture(t, Options{})

	f.call.legHangup(f.counselor, reasonBye)

	if f.call.ctx.Err() == nil {
		t.Error("the counselor's BYE without a transfer left the call up")
	}
}

func TestTransferFailureStatus(t *testing.T) {
	tests := []struct {
		name string
		d    dialOutcome
		want int
	}{
		{"busy", dialOutcome{outcome: routing.Busy, status: 486}, 486},
		{"declined", dialOutcome{outcome: routing.Declined, status: 603}, 603},
		{"not found", dialOutcome{outcome: routing.Unavailable, status: 404}, 404},
		{"no answer", dialOutcome{outcome: routing.NoAnswer}, sipmsg.StatusRequestTimeout},
		{"487 to our CANCEL at the ring timeout", dialOutcome{outcome: routing.NoAnswer, status: 487}, sipmsg.StatusRequestTimeout},
		{"caller left", dialOutcome{outcome: routing.CallerGone}, sipmsg.StatusRequestTerminated},
		{"unreachable", dialOutcome{outcome: routing.Unavailable}, sipmsg.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := transferFailureStatus(tt.d); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

// eventRecorder keeps the events published to it.
type eventRecorder struct {
	mu     sync.Mutex
	events []events.Event
}

func (r *eventRecorder) Publish(e events.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// patchRecorder is a RecordStore that keeps the patches.
type patchRecorder struct {
	mu      sync.Mutex
	patches []records.Patch
}

func (r *patchRecorder) Start(context.Context, records.StartInfo) error { return nil }

func (r *patchRecorder) Update(_ context.Context, _ string, p records.Patch) error {
	r.mu.Lock()
	r.patches = append(r.patches, p)
	r.mu.Unlock()
	return nil
}

// newTestSession opens an RTP session on a loopback port of ports.
func newTestSession(t *testing.T, ports *media.PortRange) (*media.Session, *net.UDPConn) {
	t.Helper()
	conn, err := ports.Allocate()
	if err != nil {
		t.Fatalf("allocating an RTP port: %v", err)
	}
	return media.NewSession(media.SessionConfig{Conn: conn, Codec: media.PCMA, Logger: zerolog.Nop()}), conn
}

func TestCompleteReferHandsCallerToTarget(t *testing.T) {
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), 30000, 39998)
	if err != nil {
		t.Fatalf("NewPortRange: %v", err)
	}
	f := newReferFixture(t, Options{WrapUp: time.Second})
	published := &eventRecorder{}
	patches := &patchRecorder{}
	f.srv.ports, f.srv.events, f.srv.records = ports, published, patches

	callerMedia, callerConn := newTestSession(t, ports)
	f.call.callerMedia = callerMedia
	f.counselor.media, f.counselor.port = newTestSession(t, ports)
	targetMedia, targetConn := newTestSession(t, ports)
	target := &outboundLeg{srv: f.srv, log: zerolog.Nop(), handler: f.call, media: targetMedia, port: targetConn,
		dialog: &dialogState{key: dialogKey{callID: "leg-2", localTag: "ours-2", remoteTag: "gw"}}}
	f.call.startBridge(f.counselor)

	transfer := &referTransfer{from: f.counselor, number: "119", gone: make(chan struct{}), log: zerolog.Nop()}
	f.call.refer = transfer
	// The counselor's phone already hung up, so no BYE is sent to it.
	transfer.markGone()

	f.call.completeRefer(transfer, target)

	f.call.mu.Lock()
	phase, peer, counselorID := f.call.phase, f.call.peer, f.call.counselorID
	f.call.mu.Unlock()
	if phase != phaseTransferred || peer != target || counselorID != "" {
		t.Errorf("phase %d, peer %p, counselor %q: want transferred to the target %p with no counselor", phase, peer, counselorID, target)
	}

	patches.mu.Lock()
	var recorded string
	for _, p := range patches.patches {
		if p.TransferTarget != nil {
			recorded = *p.TransferTarget
		}
	}
	patches.mu.Unlock()
	if recorded != "119" {
		t.Errorf("record transfer_target = %q, want 119", recorded)
	}

	published.mu.Lock()
	if len(published.events) != 1 {
		t.Fatalf("published %d events, want 1 transferred event", len(published.events))
	}
	e := published.events[0]
	published.mu.Unlock()
	if e.Type != events.Transferred || e.CallID != "call-1" || e.CounselorID != "1001" ||
		e.Data["target"] != "119" || e.Data["by"] != "counselor" {
		t.Errorf("event = %+v, want transferred to 119 by counselor 1001", e)
	}

	f.call.end(&hangup{side: records.SideCaller, reason: "test over"})
	f.srv.tasks.Wait()
	_ = callerMedia.Close()
	_ = targetMedia.Close()
	ports.Release(callerConn)
	ports.Release(targetConn)
	if n := ports.InUse(); n != 0 {
		t.Errorf("%d RTP ports still in use, want the counselor's port released too", n)
	}
}

func TestSilentSinceCountsFromBridgeStart(t *testing.T) {
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), 30000, 39998)
	if err != nil {
		t.Fatalf("NewPortRange: %v", err)
	}
	session, conn := newTestSession(t, ports)
	t.Cleanup(func() {
		_ = session.Close()
		ports.Release(conn)
	})

	// A transfer target answered just now after a long call: no RTP yet.
	if got := silentSince(session, time.Now()); got > time.Second {
		t.Errorf("silent for %s right after the bridge started, want under 1s", got)
	}
	if got := silentSince(session, time.Now().Add(-2*time.Minute)); got < time.Minute {
		t.Errorf("silent for %s two minutes after the start, want at least 1m", got)
	}
}

func TestReferTargetFromParsedRequest(t *testing.T) {
	tests := []struct {
		name    string
		headers string
		want    string
		wantErr error
	}{
		{"tel URI", "Refer-To: <tel:119>\r\n", "119", nil},
		{"compact form", "r: <sip:112@127.0.0.1>\r\n", "112", nil},
		{"addr-spec", "Refer-To: sip:109@127.0.0.1\r\n", "109", nil},
		{"missing", "", "", ErrReferToMissing},
		{"long and compact form together", "Refer-To: <sip:119@h>\r\nr: <sip:112@h>\r\n", "", ErrReferToMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "REFER sip:helpline@127.0.0.1 SIP/2.0\r\n" +
				"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n" +
				"From: <sip:1001@127.0.0.1>;tag=phone\r\nTo: <sip:helpline@127.0.0.1>;tag=ours\r\n" +
				"Call-ID: leg-1\r\nCSeq: 2 REFER\r\n" + tt.headers + "Content-Length: 0\r\n\r\n"
			msg, err := sipmsg.ParseMessage([]byte(raw))
			if err != nil {
				t.Fatalf("parsing the REFER: %v", err)
			}

			got, err := referTarget(msg.(*sipmsg.Request))

			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("target = %q, want %q", got, tt.want)
			}
		})
	}
}
