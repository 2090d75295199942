package config

import "testing"

func TestCallbackRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "two keys", edits: []edit{{"callbacks.key", "12"}}, key: "callbacks.key", message: "is not one DTMF key"},
		{name: "letter key", edits: []edit{{"callbacks.key", "A"}}, key: "callbacks.key", message: "is not one DTMF key"},
		{name: "zero attempts", edits: []edit{{"callbacks.attempts", 0}}, key: "callbacks.attempts", message: "must be from 1 to 10"},
		{name: "too many attempts", edits: []edit{{"callbacks.attempts", 11}}, key: "callbacks.attempts", message: "must be from 1 to 10"},
		{name: "zero interval", edits: []edit{{"callbacks.interval", "0s"}}, key: "callbacks.interval", message: "must be positive"},
		{name: "negative abandon wait", edits: []edit{{"callbacks.after_abandon_wait", "-1s"}}, key: "callbacks.after_abandon_wait", message: "must not be negative"},
	})
}

func TestOverflowRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "negative max wait", edits: []edit{{"queues.0.max_wait", "-1s"}}, key: "queues.0.max_wait", message: "must not be negative"},
		{name: "unknown action", edits: []edit{{"queues.0.overflow.action", "drop"}}, key: "queues.0.overflow.action", message: "is not an overflow action"},
		{name: "callback without gateway", edits: []edit{{"queues.0.overflow.action", "callback"}}, key: "queues.0.overflow.action", message: "needs trunk.outbound_uri"},
		{name: "transfer without target", edits: []edit{{"queues.0.overflow.action", "transfer"}}, key: "queues.0.overflow.target", message: "must be set for action transfer"},
		{name: "target without transfer", edits: []edit{{"queues.0.overflow.target", "sip:a@192.0.2.1"}}, key: "queues.0.overflow.target", message: "is set but overflow.action is not transfer"},
		{name: "number not allowed", edits: []edit{{"queues.0.overflow.action", "transfer"}, {"queues.0.overflow.target", "1234"}}, key: "queues.0.overflow.target", message: "is neither a sip: URI nor a number"},
		{name: "number without gateway", edits: []edit{{"queues.0.overflow.action", "transfer"}, {"queues.0.overflow.target", "109"}}, key: "queues.0.overflow.target", message: "trunk.outbound_uri is empty"},
	})
}

func TestOverflowTransferToURIIsValid(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "queues.0.overflow.action", "transfer")
	setPath(t, tree, "queues.0.overflow.target", "sip:overflow@192.0.2.30")
	cfg, err := loadTree(t, tree, nil)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if got := cfg.Queues[0].Overflow; got.Action != OverflowTransfer || got.Target != "sip:overflow@192.0.2.30" {
		t.Errorf("overflow = %+v, want transfer to the URI", got)
	}
}
