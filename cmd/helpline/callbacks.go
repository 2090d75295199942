package main

import (
	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/config"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/sip"
)

// callbacksEnabled reports whether callers can be called back: only with
// an outbound gateway to dial them through.
func callbacksEnabled(cfg *config.Config) bool {
	return cfg.Trunk.OutboundURI != ""
}

// callbackKey is the key waiting callers press for a callback, or "" when
// callbacks are off.
func callbackKey(cfg *config.Config) string {
	if !callbacksEnabled(cfg) {
		return ""
	}
	return cfg.Callbacks.Key
}

// overflowRules maps each queue to its overflow rule.
func overflowRules(cfg *config.Config) map[string]sip.OverflowRule {
	rules := make(map[string]sip.OverflowRule, len(cfg.Queues))
	for _, q := range cfg.Queues {
		rules[q.Name] = sip.OverflowRule{MaxWait: q.MaxWait, Action: q.Overflow.Action, Target: q.Overflow.Target}
	}
	return rules
}

// newCallbacks builds the callback task manager and, when an outbound
// gateway is configured, hands it to the SIP server.
func newCallbacks(cfg *config.Config, q queue.Store, store *records.Store, bus *events.Bus, server *sip.Server, notify func(), log zerolog.Logger) *callback.Manager {
	m := callback.NewManager(callback.Config{Attempts: cfg.Callbacks.Attempts, Interval: cfg.Callbacks.Interval}, q, store,
		callback.WithEvents(bus),
		callback.WithLogger(log.With().Str("component", "callbacks").Logger()),
	)
	m.SetNotifier(notify)
	if callbacksEnabled(cfg) {
		server.SetCallbacks(m)
	} else {
		log.Info().Msg("callbacks off: set trunk.outbound_uri to call waiting callers back")
	}
	return m
}
