package config

import (
	"slices"
	"strconv"
	"strings"
)

// Limits of the callbacks section.
const (
	// maxCallbackAttempts bounds callbacks.attempts, so that a typo cannot
	// make the server dial one number all day.
	maxCallbackAttempts = 10
	// callbackKeys are the DTMF keys a caller can press (RFC 4733 events
	// 0 to 11).
	callbackKeys = "0123456789*#"
)

// overflowActions are the allowed queues[].overflow.action values.
var overflowActions = []string{OverflowKeepWaiting, OverflowCallback, OverflowTransfer}

func validateCallbacks(c *Callbacks, ps *problems) {
	if len(c.Key) != 1 || !strings.Contains(callbackKeys, c.Key) {
		ps.add("callbacks.key", c.Key, "is not one DTMF key: use one of 0-9, * or #, such as \"*\"")
	}
	if c.Attempts < 1 || c.Attempts > maxCallbackAttempts {
		ps.add("callbacks.attempts", c.Attempts, "must be from 1 to %d", maxCallbackAttempts)
	}
	requirePositive(ps, "callbacks.interval", c.Interval)
	requireNonNegative(ps, "callbacks.after_abandon_wait", c.AfterAbandonWait)
}

// validateOverflows checks each queue's max_wait and overflow rule. A
// transfer target is a SIP URI or a number of trunk.allowed_targets, and
// a number needs trunk.outbound_uri.
func validateOverflows(queues []QueueDef, trunk *Trunk, ps *problems) {
	for i, q := range queues {
		key := joinKey("queues", strconv.Itoa(i))
		requireNonNegative(ps, key+".max_wait", q.MaxWait)

		action := q.Overflow.Action
		if action != "" && !slices.Contains(overflowActions, action) {
			ps.add(key+".overflow.action", action, "is not an overflow action: use one of %s", strings.Join(overflowActions, ", "))
			continue
		}
		if action == OverflowCallback && trunk.OutboundURI == "" {
			ps.add(key+".overflow.action", action, "needs trunk.outbound_uri to dial callers back: set the outbound gateway, or use keep_waiting or transfer")
		}
		target := q.Overflow.Target
		switch {
		case action != OverflowTransfer && target != "":
			ps.add(key+".overflow.target", target, "is set but overflow.action is not transfer: remove it, or set action: transfer")
		case action != OverflowTransfer:
		case target == "":
			ps.add(key+".overflow.target", nil, "must be set for action transfer: use a sip: URI or a number of trunk.allowed_targets")
		case strings.HasPrefix(target, "sip:") || strings.HasPrefix(target, "sips:"):
			if message, ok := checkSIPURI(target); !ok {
				ps.add(key+".overflow.target", target, "%s", message)
			}
		case !slices.Contains(trunk.AllowedTargets, target):
			ps.add(key+".overflow.target", target, "is neither a sip: URI nor a number of trunk.allowed_targets: add it there, or use a URI")
		case trunk.OutboundURI == "":
			ps.add(key+".overflow.target", target, "is a number, but trunk.outbound_uri is empty: set the outbound gateway, or use a sip: URI")
		}
	}
}
