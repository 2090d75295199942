package sip

import (
	"strconv"
	"time"

	"helpline/events"
	"helpline/records"
)

// Keys of events.Event.Data that the call layer sets.
const (
	dataWaitSeconds  = "wait_seconds"
	dataOutcome      = "outcome"
	dataHangupSide   = "hangup_side"
	dataDuration     = "duration_seconds"
	dataTransferHost = "target_host"
	// dataSilent names the leg whose RTP stopped when the media timeout
	// ended the call.
	dataSilent = "silent"
)

// publish stamps e with the call's id and puts it on the event stream.
func (c *call) publish(e events.Event) {
	e.CallID = c.id
	c.srv.events.Publish(e)
}

// publishCallerEntered reports that the caller joined queueName, with the
// language and caller type the IVR set.
func (c *call) publishCallerEntered(queueName string, attributes map[string]string) {
	data := map[string]string{}
	for _, key := range []string{attrLanguage, attrCallerType} {
		if value := attributes[key]; value != "" {
			data[key] = value
		}
	}
	c.publish(events.Event{Type: events.CallerEntered, Queue: queueName, Data: data})
}

// publishConnected reports that the caller was bridged to counselorID
// after waiting wait in the queue.
func (c *call) publishConnected(queueName, counselorID string, wait time.Duration) {
	c.publish(events.Event{
		Type:        events.Connected,
		Queue:       queueName,
		CounselorID: counselorID,
		Data:        map[string]string{dataWaitSeconds: seconds(wait)},
	})
}

// publishTransferred reports that the caller was handed to targetHost. Only
// the host is given, because the user part of the target URI can be a
// phone number.
func (c *call) publishTransferred(targetHost string) {
	c.publish(events.Event{Type: events.Transferred, Data: map[string]string{dataTransferHost: targetHost}})
}

// publishEnd reports how the call ended: abandoned first when the caller
// hung up while waiting in a queue, then call_ended.
func (c *call) publishEnd(end callEnd) {
	if end.outcome == records.OutcomeAbandonedInQueue {
		c.publish(events.Event{
			Type:  events.Abandoned,
			Queue: end.queue,
			Data:  map[string]string{dataWaitSeconds: seconds(end.queueWait)},
		})
	}
	data := map[string]string{
		dataOutcome:    string(end.outcome),
		dataHangupSide: string(end.side),
		dataDuration:   seconds(end.duration),
	}
	if end.silent != "" {
		data[dataSilent] = string(end.silent)
	}
	c.publish(events.Event{
		Type:        events.CallEnded,
		Queue:       end.queue,
		CounselorID: end.counselorID,
		Data:        data,
	})
}

// callEnd is the summary of a finished call that publishEnd reports.
type callEnd struct {
	outcome     records.Outcome
	side        records.Side
	queue       string
	counselorID string
	// queueWait is the time in the queue of a caller who left it.
	queueWait time.Duration
	duration  time.Duration
	// silent is the leg the media timeout found silent, or empty.
	silent records.Side
}

// seconds formats d as seconds with one decimal, the unit of the event
// data's durations.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64)
}
