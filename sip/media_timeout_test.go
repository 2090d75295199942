package sip

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

func TestMediaTimeoutCause(t *testing.T) {
	talking := mediaLimits{talking: 3 * time.Second}
	longAgo := time.Now().Add(-time.Minute)
	tests := []struct {
		name        string
		limits      mediaLimits
		callerSince time.Time
		peerSince   time.Time
		callerHolds bool
		peerHolds   bool
		counselorID string
		wantSilent  records.Side
		wantReason  string
	}{
		{name: "both legs just started", limits: talking, callerSince: time.Now(), peerSince: time.Now(), counselorID: "1001"},
		{name: "caller silent", limits: talking, callerSince: longAgo, peerSince: time.Now(), counselorID: "1001",
			wantSilent: records.SideCaller, wantReason: "media timeout: no RTP from the caller for 3s"},
		{name: "caller silent on hold", limits: talking, callerSince: longAgo, peerSince: time.Now(), callerHolds: true, counselorID: "1001"},
		{name: "counselor silent", limits: talking, callerSince: time.Now(), peerSince: longAgo, counselorID: "1001",
			wantSilent: records.SideCounselor, wantReason: "media timeout: no RTP from the counselor for 3s"},
		{name: "counselor silent on hold", limits: talking, callerSince: time.Now(), peerSince: longAgo, peerHolds: true, counselorID: "1001"},
		{name: "transfer target silent", limits: talking, callerSince: time.Now(), peerSince: longAgo,
			wantSilent: records.SideCounselor, wantReason: "media timeout: no RTP from the transfer target for 3s"},
		{name: "both checks off", callerSince: longAgo, peerSince: longAgo, counselorID: "1001"},
		{name: "caller past the hold timeout", limits: mediaLimits{talking: 3 * time.Second, holding: 10 * time.Second},
			callerSince: longAgo, peerSince: time.Now(), callerHolds: true, counselorID: "1001",
			wantSilent: records.SideCaller, wantReason: "media timeout: no RTP from the caller for 10s on hold"},
		{name: "counselor within the hold timeout", limits: mediaLimits{talking: 3 * time.Second, holding: 10 * time.Minute},
			callerSince: time.Now(), peerSince: longAgo, peerHolds: true, counselorID: "1001"},
		{name: "counselor past the hold timeout", limits: mediaLimits{talking: 3 * time.Second, holding: 30 * time.Second},
			callerSince: time.Now(), peerSince: longAgo, peerHolds: true, counselorID: "1001",
			wantSilent: records.SideCounselor, wantReason: "media timeout: no RTP from the counselor for 30s on hold"},
		{name: "hold timeout alone", limits: mediaLimits{holding: 30 * time.Second},
			callerSince: longAgo, peerSince: longAgo, peerHolds: true, counselorID: "1001",
			wantSilent: records.SideCounselor, wantReason: "media timeout: no RTP from the counselor for 30s on hold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCall(t)
			c.startedAt, c.peerSince = tt.callerSince, tt.peerSince
			c.callerHolds, c.peerHolds = tt.callerHolds, tt.peerHolds
			c.counselorID = tt.counselorID

			cause := c.mediaTimeoutCause(tt.limits)

			if tt.wantSilent == "" {
				if cause != nil {
					t.Fatalf("cause = %+v, want none", cause)
				}
				return
			}
			if cause == nil {
				t.Fatal("no cause, want a media timeout")
			}
			if cause.silent != tt.wantSilent {
				t.Errorf("silent leg = %q, want %q", cause.silent, tt.wantSilent)
			}
			if cause.side != records.SideServer {
				t.Errorf("hangup side = %q, want server", cause.side)
			}
			if cause.reason != tt.wantReason {
				t.Errorf("reason = %q, want %q", cause.reason, tt.wantReason)
			}
			if cause.outcome != "" {
				t.Errorf("outcome = %q, want none so that the phase decides", cause.outcome)
			}
		})
	}
}

func TestMediaLimitsCheckInterval(t *testing.T) {
	tests := []struct {
		name   string
		limits mediaLimits
		want   time.Duration
	}{
		{"both off", mediaLimits{}, 0},
		{"talking only", mediaLimits{talking: time.Minute}, 15 * time.Second},
		{"holding only", mediaLimits{holding: 2 * time.Minute}, 30 * time.Second},
		{"both, talking shorter", mediaLimits{talking: time.Minute, holding: 30 * time.Minute}, 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.limits.checkInterval(); got != tt.want {
				t.Errorf("checkInterval() = %s, want %s", got, tt.want)
			}
		})
	}
}

// A counselor whose phone keeps sending RTP is not timed out, however long
// ago the bridge started.
func TestMediaTimeoutCauseCounselorTalking(t *testing.T) {
	c, leg := testCall(t)
	c.startedAt, c.peerSince, c.counselorID = time.Now(), time.Now().Add(-time.Minute), "1001"
	leg.media.Start(c.ctx)

	phone, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(leg.media.LocalAddr()))
	if err != nil {
		t.Fatalf("opening the phone's RTP socket: %v", err)
	}
	t.Cleanup(func() { phone.Close() })
	packet := make([]byte, 12+160)
	packet[0], packet[1], packet[3], packet[11] = 0x80, 0, 1, 7
	deadline := time.Now().Add(10 * time.Second)
	for leg.media.Stats().LastReceived.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the counselor leg received no RTP within 10s")
		}
		if _, err := phone.Write(packet); err != nil {
			t.Fatalf("sending RTP: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if cause := c.mediaTimeoutCause(mediaLimits{talking: 3 * time.Second}); cause != nil {
		t.Errorf("cause = %+v, want none while the phone sends RTP", cause)
	}
}

// onCallStore returns a memory store where counselor id is on a call.
func onCallStore(t *testing.T, id string) queue.Store {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	store := queue.NewMemoryStore()
	steps := []struct {
		name string
		run  func() error
	}{
		{"add", func() error { return store.AddCounselor(ctx, id, now) }},
		{"log in", func() error { return store.SetState(ctx, id, queue.StateAvailable, "", now) }},
		{"enqueue", func() error {
			return store.Enqueue(ctx, queue.Caller{CallID: "call-1", Queue: "loneliness_ko", EnqueuedAt: now})
		}},
		{"reserve and connect", func() error {
			r, err := store.Reserve(ctx, queue.ReserveRequest{CallID: "call-1", Now: now})
			if err != nil {
				return err
			}
			return store.Connect(ctx, r, now)
		}},
	}
	for _, step := range steps {
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	return store
}

// stateChanges returns the from, to, source and reason of each
// counselor_state event, one string each.
func stateChanges(r *eventRecorder) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var changes []string
	for _, e := range r.events {
		if e.Type == events.CounselorState {
			changes = append(changes, e.Data["from"]+">"+e.Data["to"]+" "+e.Data["source"]+" "+e.Data["reason"])
		}
	}
	return changes
}

func TestFinishCounselorCallAfterMediaTimeout(t *testing.T) {
	tests := []struct {
		name        string
		wrapUp      time.Duration
		cause       *hangup
		logout      bool
		wantState   queue.CounselorState
		wantReason  string
		wantChanges []string
	}{
		{
			name:      "counselor phone silent",
			wrapUp:    30 * time.Second,
			cause:     mediaTimeoutHangup(records.SideCounselor, "the counselor", time.Minute, false),
			wantState: queue.StateBreak, wantReason: MediaTimeoutReason,
			wantChanges: []string{"on_call>wrap_up call_end ", "wrap_up>break media_timeout media timeout"},
		},
		{
			name:      "counselor phone silent without wrap-up time",
			cause:     mediaTimeoutHangup(records.SideCounselor, "the counselor", time.Minute, false),
			wantState: queue.StateBreak, wantReason: MediaTimeoutReason,
			wantChanges: []string{"on_call>wrap_up call_end ", "wrap_up>break media_timeout media timeout"},
		},
		{
			name:        "caller silent",
			wrapUp:      30 * time.Second,
			cause:       mediaTimeoutHangup(records.SideCaller, "the caller", time.Minute, false),
			wantState:   queue.StateWrapUp,
			wantChanges: []string{"on_call>wrap_up call_end "},
		},
		{
			name:        "counselor sent BYE",
			cause:       &hangup{side: records.SideCounselor, reason: "counselor sent BYE"},
			wantState:   queue.StateAvailable,
			wantChanges: []string{"on_call>available call_end "},
		},
		{
			name:        "logout during the call",
			wrapUp:      30 * time.Second,
			cause:       mediaTimeoutHangup(records.SideCounselor, "the counselor", time.Minute, false),
			logout:      true,
			wantState:   queue.StateLoggedOut,
			wantChanges: []string{"on_call>logged_out call_end "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := onCallStore(t, "1001")
			if tt.logout {
				if err := store.SetState(context.Background(), "1001", queue.StateLoggedOut, "", time.Now()); err != nil {
					t.Fatalf("logging out during the call: %v", err)
				}
			}
			published := &eventRecorder{}
			srv := &Server{opts: Options{WrapUp: tt.wrapUp}, log: zerolog.Nop(), queue: store, events: published}
			c := &call{id: "call-1", srv: srv, log: zerolog.Nop()}

			c.finishCounselorCall("1001", tt.cause)

			got, err := store.Counselor(context.Background(), "1001")
			if err != nil {
				t.Fatalf("reading the counselor: %v", err)
			}
			if got.State != tt.wantState {
				t.Errorf("state = %s, want %s", got.State, tt.wantState)
			}
			if got.Reason != tt.wantReason {
				t.Errorf("reason = %q, want %q", got.Reason, tt.wantReason)
			}
			if changes := stateChanges(published); strings.Join(changes, "; ") != strings.Join(tt.wantChanges, "; ") {
				t.Errorf("state changes = %q, want %q", changes, tt.wantChanges)
			}
		})
	}
}

// A party that resumes after a long hold without RTP gets a whole media
// timeout to start sending again.
func TestMediaTimeoutCountsFromResume(t *testing.T) {
	c, leg := testCall(t)
	c.startedAt, c.peerSince, c.counselorID = time.Now().Add(-time.Hour), time.Now().Add(-time.Hour), "1001"
	for _, party := range []any{c.caller, leg} {
		c.setHold(party, true, "sendonly")
	}
	if cause := c.mediaTimeoutCause(mediaLimits{talking: 3 * time.Second}); cause != nil {
		t.Fatalf("cause = %+v while both parties hold, want none", cause)
	}

	for _, party := range []any{c.caller, leg} {
		c.setHold(party, false, "sendrecv")
	}
	if cause := c.mediaTimeoutCause(mediaLimits{talking: 3 * time.Second}); cause != nil {
		t.Errorf("cause = %+v right after the resume, want none", cause)
	}
}

func TestCallEndedEventNamesSilentLeg(t *testing.T) {
	tests := []struct {
		name   string
		silent records.Side
		want   string
		wantOK bool
	}{
		{"media timeout", records.SideCounselor, "counselor", true},
		{"other end", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			published := &eventRecorder{}
			c := &call{id: "call-1", srv: &Server{events: published}, log: zerolog.Nop()}

			c.publishEnd(callEnd{outcome: records.OutcomeAnswered, side: records.SideServer, silent: tt.silent})

			published.mu.Lock()
			defer published.mu.Unlock()
			if len(published.events) != 1 || published.events[0].Type != events.CallEnded {
				t.Fatalf("published %+v, want one call_ended event", published.events)
			}
			got, ok := published.events[0].Data["silent"]
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("data silent = %q (present %t), want %q (present %t)", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// A bridged callback whose counselor phone sends nothing ends with the
// counselor named as the silent leg, so that the counselor is paused.
func TestCallbackMediaTimeoutNamesCounselor(t *testing.T) {
	c, counselorLeg := testCall(t)
	callerLeg := &outboundLeg{media: c.callerMedia}
	ctx, end := context.WithCancelCause(context.Background())
	t.Cleanup(func() { end(nil) })
	cb := &callbackCall{
		srv: &Server{opts: Options{MediaTimeout: 100 * time.Millisecond}},
		log: zerolog.Nop(),
		ctx: ctx,
		end: end,
	}

	go cb.watchMedia(counselorLeg, callerLeg)

	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the callback did not end within 30s of silence")
	}
	var cause *hangup
	if !errors.As(context.Cause(ctx), &cause) {
		t.Fatalf("cause = %v, want a *hangup", context.Cause(ctx))
	}
	if cause.silent != records.SideCounselor {
		t.Errorf("silent leg = %q, want counselor", cause.silent)
	}
	if want := "media timeout: no RTP from the counselor for 100ms"; cause.reason != want {
		t.Errorf("reason = %q, want %q", cause.reason, want)
	}
}
