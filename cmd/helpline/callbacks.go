package main

import (
	"context"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/config"
	"helpline/events"
	"helpline/ivr"
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

// callBackInterrupted creates a callback task for each caller with a
// number whose call the last run left open, in embedded mode with
// callbacks on, as the watchdog does in shared mode. A caller who was
// waiting keeps the place that their arrival in the queue gave them, and
// a caller cut off in the IVR waits in the first queue. The follow-up task
// of kind interrupted that the records made stays for the follow-up team.
func callBackInterrupted(cfg *config.Config, m *callback.Manager, interrupted []records.Record, log zerolog.Logger) {
	if len(interrupted) == 0 || cfg.Shared() {
		return
	}
	if !callbacksEnabled(cfg) {
		log.Info().Int("calls", len(interrupted)).Msg("callbacks off: callers cut off by the last run have follow-up tasks only")
		return
	}

	ctx, stop := context.WithTimeout(context.Background(), restoreTimeout)
	defer stop()
	created := 0
	for _, rec := range interrupted {
		req, ok := interruptedCallback(cfg, rec)
		if !ok {
			continue
		}
		if _, err := m.Create(ctx, req); err != nil {
			log.Error().Err(err).Str("call_id", rec.CallID).Msg("creating the callback task of a caller cut off by the last run failed: the follow-up task remains")
			continue
		}
		created++
	}
	log.Info().Int("calls", len(interrupted)).Int("callbacks", created).Msg("callback tasks created for callers cut off by the last run")
}

// interruptedCallback builds the callback request of an interrupted call,
// or reports false when the caller left no number to call.
func interruptedCallback(cfg *config.Config, rec records.Record) (callback.Request, bool) {
	if rec.CallerWithheld || rec.CallerNumber == "" {
		return callback.Request{}, false
	}

	queueName := rec.Queue
	if !slices.Contains(cfg.QueueNames(), queueName) {
		queueName = cfg.QueueNames()[0]
	}
	enqueuedAt := rec.QueuedAt
	if enqueuedAt.IsZero() {
		enqueuedAt = rec.StartedAt
	}
	req := callback.Request{
		TaskID:     callback.TaskIDForCall(rec.CallID),
		CallID:     rec.CallID,
		Queue:      queueName,
		Number:     rec.CallerNumber,
		Reason:     callback.ReasonInterrupted,
		EnqueuedAt: enqueuedAt,
		Attributes: map[string]string{},
	}
	if rec.Priority == ivr.PriorityHighRisk {
		req.Priority = sip.PriorityHighRisk
		req.Attributes[ivr.AttributePriority] = ivr.PriorityHighRisk
	}
	if rec.Language != "" {
		req.Attributes[ivr.AttributeLanguage] = rec.Language
	}
	if rec.CallerType != "" {
		req.Attributes[ivr.AttributeCallerType] = rec.CallerType
	}
	return req, true
}
