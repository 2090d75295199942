package events

import (
	"maps"
	"time"
)

// Type names what happened.
type Type string

// Event types. The names are stable: they are stored and shown to
// supervisors.
const (
	// CallerEntered: a caller joined a queue.
	CallerEntered Type = "caller_entered"
	// Offered: a counselor's phone was rung for a caller.
	Offered Type = "offered"
	// RingNoAnswer: a counselor's phone rang until the ring timeout.
	RingNoAnswer Type = "ring_no_answer"
	// OfferRejected: a counselor's phone answered busy, declined or could
	// not be reached. Data["outcome"] says which.
	OfferRejected Type = "offer_rejected"
	// Connected: a caller was bridged to a counselor.
	Connected Type = "connected"
	// Abandoned: a caller hung up while waiting in a queue.
	Abandoned Type = "abandoned"
	// Overflowed: a queue's overflow rule acted on a caller.
	Overflowed Type = "overflowed"
	// HighRiskWaiting: a caller who said they are in danger is waiting.
	HighRiskWaiting Type = "high_risk_waiting"
	// CallbackRequested: a callback task was created.
	CallbackRequested Type = "callback_requested"
	// CallbackAttempted: the server dialled a caller back.
	CallbackAttempted Type = "callback_attempted"
	// CallbackCompleted: a callback reached the caller and a counselor.
	CallbackCompleted Type = "callback_completed"
	// CallbackFailed: every attempt of a callback failed.
	CallbackFailed Type = "callback_failed"
	// CallbackCancelled: a supervisor cancelled a callback.
	CallbackCancelled Type = "callback_cancelled"
	// Transferred: a call was handed to another number.
	Transferred Type = "transferred"
	// EmergencyCalling: an emergency service is being rung for a call.
	// Data["target"] is the number, one of trunk.allowed_targets.
	EmergencyCalling Type = "emergency_calling"
	// EmergencyJoined: an emergency service was called into a call.
	EmergencyJoined Type = "emergency_joined"
	// EmergencyFailed: an emergency service could not be called into a
	// call that goes on. Data["target"] is the number and Data["reason"]
	// the cause: timeout, busy, rejected, unreachable, no_route or
	// not_joined. Data["status"], when the gateway sent one, is its final
	// SIP status.
	EmergencyFailed Type = "emergency_failed"
	// MonitorStarted: a supervisor started to listen, whisper or barge.
	MonitorStarted Type = "monitor_started"
	// CounselorState: a counselor changed state. Data["from"], Data["to"]
	// and, for a break, Data["reason"].
	CounselorState Type = "counselor_state"
	// CallEnded: a call ended. Data["outcome"] is its records outcome.
	CallEnded Type = "call_ended"
	// NodeStopped: in shared mode, a node reclaimed what a stopped node
	// left behind. Data["node"] is the stopped node, Data["by"] the
	// reclaiming one, and the other keys count what was reclaimed.
	NodeStopped Type = "node_stopped"
	// LoginLocked: repeated failed logins locked a web user name from one
	// source address, or the whole address. Data["user"] is the name
	// typed, Data["source"] the client address, Data["scope"] "user" (the
	// name from that address) or "source" (every login from it),
	// Data["until"] the end of the lock (RFC 3339).
	LoginLocked Type = "login_locked"
	// SIPRateLimited: a source sent more new INVITEs or REGISTERs than
	// sip.rate_limit allows. Published once per source per minute at
	// most. Data["source"] is the address (an IPv6 source's /64, or
	// "other" for the sources that share one bucket), Data["method"]
	// INVITE or REGISTER, Data["action"] rejected (503 over TCP) or
	// dropped (UDP), Data["limited"] the requests limited since the
	// source's last event.
	SIPRateLimited Type = "sip_rate_limited"
	// SIPAuthLocked: repeated failed digest authentications locked a
	// counselor id at one source address. Data["user"] is the id the
	// requests named, Data["source"] the address, Data["method"] the
	// method of the failing request (REGISTER or INVITE), Data["until"]
	// the end of the lock (RFC 3339).
	SIPAuthLocked Type = "sip_auth_locked"
	// FollowUpChanged: a follow-up task was created by a wrap-up, or
	// assigned, given a note or closed through the API. CallID is the
	// task's call, Data["followup_id"] the task, Data["kind"] its kind and
	// Data["change"] one of created, assigned, noted, closed. It never
	// holds the notes, the outcome or a number.
	FollowUpChanged Type = "followup_changed"
	// RecordsUnavailable: writing to the records store failed, and call
	// records and events are held in memory. Data["location"] names the
	// store.
	RecordsUnavailable Type = "records_unavailable"
	// RecordsRecovered: the records store works again and the held records
	// are written. Data["outage_seconds"] and Data["dropped"] describe the
	// outage.
	RecordsRecovered Type = "records_recovered"
)

// Event is one thing that happened. IDs that do not apply are empty.
type Event struct {
	// Seq numbers the events of one Bus from 1 in publishing order. The
	// Bus sets it.
	Seq uint64
	// At is when it happened. The Bus sets it when it is zero.
	At time.Time
	// Type names what happened.
	Type Type
	// CallID is the call the event is about: the caller's Call-ID, or a
	// callback's ID.
	CallID string
	// CounselorID is the counselor the event is about.
	CounselorID string
	// Queue is the queue the event is about.
	Queue string
	// Data holds details that depend on Type. It never holds a phone
	// number in full.
	Data map[string]string
}

// Clone returns a copy of e that shares no map with it.
func (e Event) Clone() Event {
	e.Data = maps.Clone(e.Data)
	return e
}

// Publisher takes events. *Bus implements it, and Nop drops them.
type Publisher interface {
	Publish(e Event)
}

// Nop is a Publisher that drops every event, for parts built without a bus.
type Nop struct{}

// Publish drops e.
func (Nop) Publish(Event) {}
