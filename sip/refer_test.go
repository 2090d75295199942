package sip

import (
	"context"
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
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
		{"busy", dialOutcome{status: 486}, 486},
		{"declined", dialOutcome{status: 603}, 603},
		{"no answer", dialOutcome{outcome: routing.NoAnswer}, sipmsg.StatusRequestTimeout},
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
