package redisstore

import (
	"encoding/json"
	"fmt"
	"time"

	"helpline/queue"
)

// callerRecord is a waiting caller as JSON in the callers hash. The Lua
// scripts read and write the same field names.
type callerRecord struct {
	CallID string `json:"id"`
	Queue  string `json:"queue"`
	// Priority is a JSON string, so that the scripts copy it without
	// turning it into a double.
	Priority     int               `json:"prio,string"`
	EnqueuedAt   []int64           `json:"enq,omitempty"`
	Attributes   map[string]string `json:"attrs,omitempty"`
	OfferedTo    string            `json:"offered_to,omitempty"`
	OfferedToAll []string          `json:"offered_all,omitempty"`
	Kind         queue.Kind        `json:"kind,omitempty"`
	Node         string            `json:"node,omitempty"`
	// Rank is the caller's member in the waiting set (see rank).
	Rank string `json:"rank"`
}

// counselorRecord is a counselor as JSON in the counselors hash.
type counselorRecord struct {
	ID              string               `json:"id"`
	State           queue.CounselorState `json:"state"`
	Reason          string               `json:"reason,omitempty"`
	IdleSince       []int64              `json:"idle,omitempty"`
	WrapUpUntil     []int64              `json:"wrap,omitempty"`
	OfferCallID     string               `json:"offer,omitempty"`
	CallID          string               `json:"call,omitempty"`
	LogoutAfterCall bool                 `json:"logout,omitempty"`
	Since           []int64              `json:"since,omitempty"`
	AnsweredToday   int                  `json:"answered,omitempty"`
	AnsweredDay     string               `json:"day,omitempty"`
	Node            string               `json:"node,omitempty"`
}

// toStamp returns t as [Unix seconds, nanoseconds], or nil for the zero
// time.
func toStamp(t time.Time) []int64 {
	if t.IsZero() {
		return nil
	}
	return []int64{t.Unix(), int64(t.Nanosecond())}
}

// fromStamp returns the time of a stamp in UTC, or the zero time for nil.
func fromStamp(stamp []int64) time.Time {
	if len(stamp) != 2 {
		return time.Time{}
	}
	return time.Unix(stamp[0], stamp[1]).UTC()
}

// newCallerRecord returns the record Enqueue stores for caller: no offer,
// and node when the caller names none.
func newCallerRecord(caller queue.Caller, node string) callerRecord {
	if caller.Node == "" {
		caller.Node = node
	}
	return callerRecord{
		CallID:     caller.CallID,
		Queue:      caller.Queue,
		Priority:   caller.Priority,
		EnqueuedAt: toStamp(caller.EnqueuedAt),
		Attributes: caller.Attributes,
		Kind:       caller.Kind,
		Node:       caller.Node,
		Rank:       rank(caller.Queue, caller.Priority, caller.EnqueuedAt, caller.CallID),
	}
}

func (r callerRecord) caller() queue.Caller {
	return queue.Caller{
		CallID:       r.CallID,
		Queue:        r.Queue,
		Priority:     r.Priority,
		EnqueuedAt:   fromStamp(r.EnqueuedAt),
		Attributes:   r.Attributes,
		OfferedTo:    r.OfferedTo,
		OfferedToAll: r.OfferedToAll,
		Kind:         r.Kind,
		Node:         r.Node,
	}
}

func (r counselorRecord) counselor() queue.Counselor {
	return queue.Counselor{
		ID:              r.ID,
		State:           r.State,
		Reason:          r.Reason,
		IdleSince:       fromStamp(r.IdleSince),
		WrapUpUntil:     fromStamp(r.WrapUpUntil),
		OfferCallID:     r.OfferCallID,
		CallID:          r.CallID,
		LogoutAfterCall: r.LogoutAfterCall,
		Since:           fromStamp(r.Since),
		AnsweredToday:   r.AnsweredToday,
		AnsweredDay:     r.AnsweredDay,
		Node:            r.Node,
	}
}

// decodeCaller parses a caller record.
func decodeCaller(raw string) (queue.Caller, error) {
	var record callerRecord
	if err := json.Unmarshal([]byte(raw), &record); err != nil {
		return queue.Caller{}, fmt.Errorf("decode caller record: %w", err)
	}
	return record.caller(), nil
}

// decodeCounselor parses a counselor record.
func decodeCounselor(raw string) (queue.Counselor, error) {
	var record counselorRecord
	if err := json.Unmarshal([]byte(raw), &record); err != nil {
		return queue.Counselor{}, fmt.Errorf("decode counselor record: %w", err)
	}
	return record.counselor(), nil
}

// Lengths of the fixed-width parts of a rank after the queue prefix.
const (
	priorityKeyLen = 16
	arrivalKeyLen  = 24
)

// signFlip maps int64 order onto uint64 order.
const signFlip = 1 << 63

// rank returns the member of a waiting caller in the waiting set. Members
// of equal score sort by bytes, and this one sorts by queue, then priority
// descending, then arrival, then call ID.
func rank(queueName string, priority int, enqueuedAt time.Time, callID string) string {
	return queuePrefix(queueName) + priorityKey(priority) + arrivalKey(enqueuedAt) + callID
}

// queuePrefix starts the rank of every caller of queueName. The length in
// front keeps one queue's prefix from being the start of another's.
func queuePrefix(queueName string) string {
	return fmt.Sprintf("%08x", len(queueName)) + queueName
}

// priorityKey is 16 hex digits that sort higher priorities first.
func priorityKey(priority int) string {
	return fmt.Sprintf("%016x", ^(uint64(int64(priority)) ^ signFlip))
}

// arrivalKey is 24 hex digits that sort earlier times first: Unix seconds,
// then nanoseconds.
func arrivalKey(t time.Time) string {
	return fmt.Sprintf("%016x%08x", uint64(t.Unix())^signFlip, t.Nanosecond())
}

// queueRange returns the bounds of ZRANGEBYLEX for every rank of queueName.
// Each rank continues the prefix with a hex digit, which sorts below 0xff.
func queueRange(queueName string) (low, high string) {
	prefix := queuePrefix(queueName)
	return "[" + prefix, "(" + prefix + "\xff"
}
