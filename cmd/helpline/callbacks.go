package main

import (
	"context"
	"slices"
	"time"

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
	if !callbacksEnabled(cfg) {
		log.Info().Msg("callbacks off: set trunk.outbound_uri to call waiting callers back")
		return m
	}
	server.SetCallbacks(m)
	if cfg.Shared() {
		// The records list every node's open tasks, and restoring them
		// here would dial the callers of running nodes a second time.
		// The watchdog takes over the queued tasks of a stopped node.
		// NOTE: a task between attempts or dialling when its node stopped
		// is not taken over; it stays open in the records.
		log.Info().Msg("shared mode: open callbacks of the last run are taken over by the watchdog, not restored")
		return m
	}
	restoreCallbacks(cfg, m, store, log)
	return m
}

// restoreCallbacks queues again the open tasks of the last run whose queue
// is still configured.
func restoreCallbacks(cfg *config.Config, m *callback.Manager, store *records.Store, log zerolog.Logger) {
	ctx, stop := context.WithTimeout(context.Background(), restoreTimeout)
	defer stop()
	stored, err := store.ListOpenCallbacks(ctx)
	if err != nil {
		log.Error().Err(err).Msg("reading the callbacks of the last run failed: open tasks stay in the records only")
		return
	}
	queues := cfg.QueueNames()
	var open []records.Callback
	for _, cb := range stored {
		if cb.State.Final() {
			continue
		}
		if !slices.Contains(queues, cb.Queue) {
			log.Warn().Str("callback_id", cb.TaskID).Str("queue", cb.Queue).Msg("open callback of a queue no longer configured is not restored")
			continue
		}
		open = append(open, cb)
	}
	m.Restore(ctx, open)
}

// restoreTimeout bounds reading and queueing the open callbacks at start.
const restoreTimeout = 30 * time.Second
