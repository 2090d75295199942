package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// eventTimeout bounds the wait for events to reach the records database.
const eventTimeout = 60 * time.Second

// eventField returns an event's field as text.
func eventField(event map[string]any, key string) string {
	v, _ := event[key].(string)
	return v
}

// eventData returns a Data value of an event.
func eventData(event map[string]any, key string) string {
	data, _ := event["data"].(map[string]any)
	v, _ := data[key].(string)
	return v
}

// callEvents returns the events of one call, in order.
func callEvents(list []map[string]any, callID string) []map[string]any {
	var matching []map[string]any
	for _, e := range list {
		if eventField(e, "call_id") == callID {
			matching = append(matching, e)
		}
	}
	return matching
}

// eventTypes returns the types of list, in order.
func eventTypes(list []map[string]any) []string {
	types := make([]string, 0, len(list))
	for _, e := range list {
		types = append(types, eventField(e, "type"))
	}
	return types
}

// hasEvent reports whether list holds an event of eventType for callID.
func hasEvent(list []map[string]any, callID, eventType string) bool {
	for _, e := range callEvents(list, callID) {
		if eventField(e, "type") == eventType {
			return true
		}
	}
	return false
}

// requireSubsequence fails unless want appears in got in order, other
// entries allowed between.
func requireSubsequence(t *testing.T, label string, got, want []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: events %v lack %v in this order", label, got, want)
	}
}

func TestEventsOfAnsweredAndAbandonedCalls(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: fastQueue("1s")})

	// No counselor is logged in, so this caller waits and hangs up.
	abandoned := RunSipp(t, SippOptions{
		Scenario: "uac_abandon.xml",
		Target:   srv.Addr(),
		Service:  "120",
		// The "connecting" prompt plays for about 4 s before the queue.
		Vars: map[string]string{"abandon_ms": "8000"},
	})
	waitEndedRecord(t, srv, abandoned.CallID)

	phone := counselorPhone(t, srv, "1001", true)
	phone.WaitRegistered(t, phoneTimeout)
	answered := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "4000", "voice_plays": "1", "hold_ms": "2000"},
		Timeout:  90 * time.Second,
	})

	list := srv.WaitEvents(t, func(list []map[string]any) bool {
		return hasEvent(list, abandoned.CallID, "call_ended") && hasEvent(list, answered.CallID, "call_ended")
	}, eventTimeout)

	abandonedEvents := callEvents(list, abandoned.CallID)
	// No counselor is logged in, so the queue's overflow rule (keep
	// waiting) acts on the caller before the hang-up.
	if got, want := eventTypes(abandonedEvents), []string{"caller_entered", "overflowed", "abandoned", "call_ended"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("abandoned call: events %v, want %v", got, want)
	}
	for _, e := range abandonedEvents {
		if eventField(e, "queue") != "loneliness_ko" {
			t.Errorf("abandoned call: %s event has queue %q, want loneliness_ko", eventField(e, "type"), eventField(e, "queue"))
		}
		switch eventField(e, "type") {
		case "caller_entered":
			if eventData(e, "language") != "ko" || eventData(e, "caller_type") != "self" {
				t.Errorf("caller_entered data = %v, want language ko and caller_type self", e["data"])
			}
		case "abandoned":
			if wait := eventData(e, "wait_seconds"); wait == "" || wait == "0.0" {
				t.Errorf("abandoned wait_seconds = %q, want the seconds in the queue", wait)
			}
		case "call_ended":
			if eventData(e, "outcome") != "abandoned_in_queue" || eventData(e, "hangup_side") != "caller" {
				t.Errorf("abandoned call_ended data = %v, want outcome abandoned_in_queue by the caller", e["data"])
			}
		}
	}

	answeredEvents := callEvents(list, answered.CallID)
	requireSubsequence(t, "answered call", eventTypes(answeredEvents), []string{"caller_entered", "offered", "connected", "call_ended"})
	for _, e := range answeredEvents {
		typ := eventField(e, "type")
		if (typ == "offered" || typ == "connected" || typ == "call_ended") && eventField(e, "counselor_id") != "1001" {
			t.Errorf("answered call: %s event has counselor %q, want 1001", typ, eventField(e, "counselor_id"))
		}
		if typ == "call_ended" && eventData(e, "outcome") != "answered" {
			t.Errorf("answered call_ended outcome = %q, want answered", eventData(e, "outcome"))
		}
		if typ == "abandoned" {
			t.Errorf("answered call has an abandoned event: %v", e)
		}
	}

	// Order across the whole log: the first call ended before the phone
	// registered, and the phone registered before it was offered a call.
	var order []string
	for _, e := range list {
		switch {
		case eventField(e, "call_id") == abandoned.CallID && eventField(e, "type") == "call_ended":
			order = append(order, "abandoned call ended")
		case eventField(e, "type") == "counselor_state" && eventField(e, "counselor_id") == "1001" &&
			eventData(e, "from") == "logged_out" && eventData(e, "to") == "available":
			order = append(order, "1001 available")
		case eventField(e, "call_id") == answered.CallID && eventField(e, "type") == "offered":
			order = append(order, "answered call offered")
		}
	}
	requireSubsequence(t, "event log", order, []string{"abandoned call ended", "1001 available", "answered call offered"})

	var lastSeq float64
	for _, e := range list {
		seq, _ := e["seq"].(float64)
		if seq <= lastSeq {
			t.Errorf("seq %v follows %v: the list is not in order", seq, lastSeq)
		}
		lastSeq = seq
		for key, value := range e["data"].(map[string]any) {
			if strings.Contains(fmt.Sprint(value), callerNumber[3:]) {
				t.Errorf("event %v data %s holds the caller's number", e["type"], key)
			}
		}
	}

	text := srv.EventsText(t)
	if !strings.Contains(text, "call="+answered.CallID) || !strings.Contains(text, "connected") {
		t.Errorf("text listing lacks the answered call's connected event:\n%s", text)
	}
}
