package sip

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"helpline/media"
	"helpline/records"
)

// phase is the stage a call has reached.
type phase int

const (
	phaseIVR phase = iota
	phaseQueued
	phaseTalking
	phaseTransferred
	phaseEnded
)

// byeTimeout bounds the wait for the answer to a BYE we send.
const byeTimeout = 32 * time.Second

// hangup is the cause a call's context ends with: who ended it and why.
type hangup struct {
	side   records.Side
	reason string
	// outcome, when set, overrides the outcome the call's phase implies.
	outcome records.Outcome
	// silent names the leg whose RTP stopped when the media timeout ended
	// the call: SideCaller for the trunk leg, SideCounselor for the peer
	// leg (a counselor or a transfer target). Empty for every other end.
	silent records.Side
}

func (h *hangup) Error() string { return string(h.side) + " ended the call: " + h.reason }

// Causes of a call's end that several places use.
var (
	causeShutdown = &hangup{side: records.SideServer, reason: "server shutdown", outcome: records.OutcomeInterrupted}
	causeNoAck    = &hangup{side: records.SideServer, reason: errNoAck.Error(), outcome: records.OutcomeFailed}
	causeCancel   = &hangup{side: records.SideCaller, reason: "caller sent CANCEL"}
)

// call is one caller's call from the trunk, through the IVR and the queue,
// to a counselor or a transfer.
type call struct {
	id  string
	srv *Server
	log zerolog.Logger

	ctx context.Context
	end context.CancelCauseFunc

	caller      *inboundLeg
	callerPort  *net.UDPConn
	callerMedia *media.Session
	codec       media.Codec
	startedAt   time.Time
	// sdpSession and sdpVersion are the o= line of the SDP this server
	// sends the caller: the id stays, the version grows with each new
	// description (RFC 3264 8).
	sdpSession uint64
	sdpVersion atomic.Uint64

	mu sync.Mutex
	// The fields below are guarded by mu.
	phase       phase
	queuedAt    time.Time
	counselorID string
	peer        *outboundLeg
	// earlyBye marks counselor legs that sent BYE after answering but
	// before connect bridged them, so that connect ends the call as a
	// counselor's hang-up of an answered call.
	earlyBye map[*outboundLeg]bool
	// holdStop stops the queue music when a counselor answers.
	holdStop context.CancelFunc
	// queue is the queue the caller joined, "" before that.
	queue string
	// connectedAt is when a counselor answered, zero before.
	connectedAt time.Time

	// recordedLanguage is the language last written to the record. The
	// answer sets it and then only the IVR goroutine reads and writes it.
	recordedLanguage string

	// identity is the caller's number as the trunk sent it, for callbacks.
	// It is set before the call runs and never changes.
	identity CallerIdentity
	// ivrDigits carries the caller's digits once the IVR media exists; the
	// queue reads the callback key from it. Set before the IVR runs.
	ivrDigits chan rune
	// overflowTransferred marks a call the overflow rule transferred.
	overflowTransferred atomic.Bool
	// bufferExpired receives a value when the caller has been held in the
	// queue store's outage buffer for longer than its maximum wait. Set
	// before the call runs; capacity 1.
	bufferExpired chan struct{}
	// bridgeStop ends the running caller-counselor bridge, and
	// bridgePause, while set, keeps the bridge from restarting until it
	// is closed (see pauseBridge).
	bridgeStop  context.CancelFunc
	bridgePause chan struct{}
	// conf is the mix that replaces the bridge once a third party joins.
	conf *conference
	// emergencyDialing and monitorDialing are set while an emergency
	// target or a supervisor is being rung.
	emergencyDialing bool
	monitorDialing   bool
	// emergency is the state of the last emergency call of this call,
	// with an empty Status before the first.
	emergency EmergencyState
	// callerHolds and peerHolds are set while that party holds the call.
	// runBridge plays hold music to the other party meanwhile.
	callerHolds bool
	peerHolds   bool
	// callerResumed and peerResumed are when that party last ended a
	// hold. The media timeout counts the party's silence from then at the
	// earliest, because a party may send no RTP while it holds.
	callerResumed time.Time
	peerResumed   time.Time
	// sessionTimer is the RFC 4028 timer, nil when the call has none.
	sessionTimer *sessionTimer
	// refer is the counselor's REFER transfer, pending or completed; nil
	// when there is none or it failed.
	refer *referTransfer
	// peerSince is when the audio bridge to peer started. The media
	// timeout of a peer that has sent no RTP yet counts from then, not
	// from the call's start.
	peerSince time.Time
	// bridgeRunning is set while runBridge runs, so that startBridge
	// hands a new peer to the running loop instead of starting another.
	bridgeRunning bool
}

// hangupCause returns why the call ended, defaulting to the caller.
func (c *call) hangupCause() *hangup {
	var h *hangup
	if errors.As(context.Cause(c.ctx), &h) {
		return h
	}
	return &hangup{side: records.SideCaller, reason: "caller left"}
}

// setPhase moves the call on, unless it has ended.
func (c *call) setPhase(p phase) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase == phaseEnded {
		return false
	}
	c.phase = p
	return true
}

// record applies a patch to the call record. A failed write is logged and
// the call goes on: the caller matters more than the record.
func (c *call) record(p records.Patch) {
	if c.srv.records == nil {
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), recordTimeout)
	defer stop()
	if err := c.srv.records.Update(ctx, c.id, p); err != nil {
		c.log.Error().Err(err).Msg("updating call record failed")
	}
}

// recordTimeout bounds one write to the record store.
const recordTimeout = 5 * time.Second

// legHangup is called when a leg's peer sends BYE.
func (c *call) legHangup(leg any, reason string) {
	if c.referLegHangup(leg, reason) {
		return
	}
	if c.counselorLeftMix(leg) {
		return
	}
	if leg == any(c.caller) {
		c.end(&hangup{side: records.SideCaller, reason: "caller sent " + reason})
		return
	}
	if out, ok := leg.(*outboundLeg); ok && c.noteEarlyBye(out) {
		c.log.Info().Msg("counselor hung up as the call was being bridged")
		return
	}
	c.end(&hangup{side: records.SideCounselor, reason: "counselor sent " + reason})
}

// noteEarlyBye records a BYE from a counselor leg that answered while the
// caller still waits in the queue, before connect made it the peer. It
// reports false when the leg is already connected or the call is past the
// queue.
func (c *call) noteEarlyBye(out *outboundLeg) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseQueued || c.peer == out {
		return false
	}
	if c.earlyBye == nil {
		c.earlyBye = make(map[*outboundLeg]bool)
	}
	c.earlyBye[out] = true
	return true
}

// legDigit delivers an INFO digit from the caller to the IVR, and one
// from the counselor to the feature code reader.
func (c *call) legDigit(leg any, digit rune) {
	if leg == any(c.caller) && c.callerMedia != nil {
		c.callerMedia.InjectDigit(media.Digit(digit))
	}
	if out, ok := leg.(*outboundLeg); ok && out.media != nil {
		out.media.InjectDigit(media.Digit(digit))
	}
}

// legReoffer answers a re-INVITE or UPDATE offer from either leg on the
// same port (hold, resume, codec change); see reoffer.
func (c *call) legReoffer(leg any, offer []byte) ([]byte, error) {
	return c.reoffer(leg, offer)
}

// answerCall sends the 200 OK with the SDP answer. It runs in the INVITE
// handler, because sipgo ends a server transaction whose handler returns
// without a final response. It returns false when the call is over.
func (c *call) answerCall(offer *media.Negotiated, answer []byte) bool {
	if err := c.caller.answer(c.ctx, answer, func() { c.end(causeNoAck) }); err != nil {
		if c.caller.cancelled.Load() {
			c.log.Info().Msg("caller cancelled before the 200 OK")
			return false
		}
		c.log.Warn().Err(err).Msg("answering the call failed")
		c.end(&hangup{side: records.SideServer, reason: "200 OK not sent: " + err.Error(), outcome: records.OutcomeFailed})
		return false
	}
	c.recordAnswered(time.Now())
	c.log.Info().Str("codec", offer.Codec.Name).Msg("call answered, IVR starting")
	return true
}

// recordAnswered writes the answer time together with the menu's default
// language, which the IVR sets first thing. One write instead of two
// matters because every record write is a commit that waits for the disk.
func (c *call) recordAnswered(at time.Time) {
	language := c.srv.graph.DefaultLanguage
	c.recordedLanguage = language
	c.record(records.Patch{AnsweredAt: &at, Language: &language})
}

// run drives an answered call: IVR, then queue or transfer, then the end.
// A call that could not be answered only runs its end.
func (c *call) run(answered bool) {
	defer c.finish()
	if !answered {
		return
	}

	c.callerMedia.Start(c.ctx)
	c.srv.spawn(func() { c.watchMedia() })

	c.runIVR()
	<-c.ctx.Done()
}
