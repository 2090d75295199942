package records

import (
	"errors"
	"fmt"
	"time"
)

// Outcome is the final state of a call. The empty Outcome marks a call
// still in progress.
type Outcome string

// Outcomes a record can end with.
const (
	OutcomeAnswered         Outcome = "answered"
	OutcomeAbandonedInIVR   Outcome = "abandoned_in_ivr"
	OutcomeAbandonedInQueue Outcome = "abandoned_in_queue"
	OutcomeNoCommonCodec    Outcome = "no_common_codec"
	OutcomeRejected         Outcome = "rejected"
	OutcomeTransferred      Outcome = "transferred"
	OutcomeFailed           Outcome = "failed"
	// OutcomeEndedInIVR marks a call the IVR ended with its goodbye: no
	// valid choice and no general service to transfer to.
	OutcomeEndedInIVR Outcome = "ended_in_ivr"
	// OutcomeInterrupted marks a call that was still open when the server
	// stopped. MarkInterrupted sets it at the next start-up, and
	// MarkNodeInterrupted when a node of a shared cluster stopped.
	OutcomeInterrupted Outcome = "interrupted"
	// OutcomeCallbackRequested marks a waiting caller who pressed the
	// callback key and was hung up; a callback task took the caller's
	// place.
	OutcomeCallbackRequested Outcome = "callback_requested"
	// OutcomeOverflowCallback marks a caller whom a queue's overflow rule
	// hung up with a callback task.
	OutcomeOverflowCallback Outcome = "overflow_callback"
	// OutcomeOverflowTransferred marks a caller whom a queue's overflow
	// rule transferred.
	OutcomeOverflowTransferred Outcome = "overflow_transferred"
)

// Valid reports whether o is one of the Outcome constants.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeAnswered, OutcomeAbandonedInIVR, OutcomeAbandonedInQueue, OutcomeNoCommonCodec,
		OutcomeRejected, OutcomeTransferred, OutcomeFailed, OutcomeEndedInIVR, OutcomeInterrupted,
		OutcomeCallbackRequested, OutcomeOverflowCallback, OutcomeOverflowTransferred:
		return true
	}
	return false
}

// Side is the party that ended a call.
type Side string

// Sides that can hang up.
const (
	SideCaller    Side = "caller"
	SideCounselor Side = "counselor"
	SideServer    Side = "server"
)

// Valid reports whether s is one of the Side constants.
func (s Side) Valid() bool {
	switch s {
	case SideCaller, SideCounselor, SideServer:
		return true
	}
	return false
}

// Record is one call as stored. Times are in UTC and zero when the call
// never reached that step.
type Record struct {
	CallID string
	// Source is the address of the trunk that sent the call.
	Source       string
	CalledNumber string
	// CallerNumber is the decrypted number as the trunk sent it. It is empty
	// when the caller withheld it, when none was sent, or when decryption
	// failed (then CallerNumberErr is set).
	CallerNumber   string
	CallerWithheld bool
	// CallerHash is the hex HMAC-SHA256 of the normalised caller number, or
	// empty when there is no number.
	CallerHash string
	// CallerNumberErr is non-nil when the stored number could not be
	// decrypted; it wraps ErrDecrypt. Reads return such a record with a nil
	// error so that one bad row does not hide the others.
	CallerNumberErr error

	StartedAt           time.Time
	AnsweredAt          time.Time
	QueuedAt            time.Time
	CounselorAnsweredAt time.Time
	EndedAt             time.Time

	// Digits are the DTMF digits the caller pressed in the IVR.
	Digits         string
	Language       string
	CallerType     string
	Queue          string
	Counselor      string
	TransferTarget string
	// QueueWait is the time the caller spent waiting for a counselor.
	QueueWait time.Duration

	Outcome      Outcome
	HangupSide   Side
	HangupReason string

	// UpdatedAt is the time of the last write to the record.
	UpdatedAt time.Time

	// EmergencyTarget is the emergency service number called into the
	// call, such as 119, or empty.
	EmergencyTarget string
	// Priority is the caller's queue priority from the IVR: "high_risk"
	// for a caller in danger right now, else empty.
	Priority string
	// Node is the cluster.node_id of the server that took the call in
	// shared mode, or empty.
	Node string
}

// StartInfo contains the facts known about a call when it arrives.
type StartInfo struct {
	CallID       string
	Source       string
	CalledNumber string
	// CallerNumber is the number as the trunk sent it; Start encrypts it.
	CallerNumber string
	// CallerWithheld marks a caller who asked for privacy. The record then
	// keeps no number and no hash, even when CallerNumber is set.
	CallerWithheld bool
	// StartedAt is when the call arrived; zero means the store's clock now.
	StartedAt time.Time
	// Node is the cluster.node_id of the server taking the call in shared
	// mode, so MarkNodeInterrupted can close this node's calls alone. Empty
	// for a server running alone.
	Node string
}

// Patch changes some fields of a record. A nil field is left unchanged. A
// pointer to the zero time clears that time.
type Patch struct {
	AnsweredAt          *time.Time
	QueuedAt            *time.Time
	CounselorAnsweredAt *time.Time
	EndedAt             *time.Time

	Digits         *string
	Language       *string
	CallerType     *string
	Queue          *string
	Counselor      *string
	TransferTarget *string
	HangupReason   *string

	QueueWait  *time.Duration
	Outcome    *Outcome
	HangupSide *Side

	EmergencyTarget *string
	Priority        *string
}

// ErrInvalidInput is returned for a start or patch the store rejects before
// writing: an empty call id, an unknown outcome or side, or a negative wait.
var ErrInvalidInput = errors.New("invalid call record input")

// validate checks the fields a patch may not carry.
func (p Patch) validate() error {
	if p.Outcome != nil && !p.Outcome.Valid() {
		return fmt.Errorf("%w: unknown outcome %q", ErrInvalidInput, *p.Outcome)
	}
	if p.HangupSide != nil && !p.HangupSide.Valid() {
		return fmt.Errorf("%w: unknown hangup side %q (want caller, counselor or server)", ErrInvalidInput, *p.HangupSide)
	}
	if p.QueueWait != nil && *p.QueueWait < 0 {
		return fmt.Errorf("%w: negative queue wait %s", ErrInvalidInput, *p.QueueWait)
	}
	return nil
}
