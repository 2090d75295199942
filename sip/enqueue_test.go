package sip

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/ivr"
	"helpline/queue"
	"helpline/records"
)

// stepLog is a record store and an event publisher that lists, in order,
// the queued_at writes and the events of calls.
type stepLog struct {
	mu    sync.Mutex // guards steps
	steps []string
}

func (l *stepLog) add(step string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps = append(l.steps, step)
}

func (l *stepLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.steps)
}

func (l *stepLog) Start(context.Context, records.StartInfo) error { return nil }

func (l *stepLog) Update(_ context.Context, _ string, p records.Patch) error {
	if p.QueuedAt != nil {
		l.add("queued_at")
	}
	return nil
}

func (l *stepLog) Publish(e events.Event) { l.add(string(e.Type)) }

// A board that redraws on caller_entered reads the figures from the
// records, so queued_at must be written before the event goes out.
func TestEnqueueRecordsBeforeCallerEntered(t *testing.T) {
	steps := &stepLog{}
	s := &Server{
		queue: queue.NewMemoryStore(), records: steps, events: steps, calls: newCallTable(), log: zerolog.Nop(),
		// No hold audio: the hold loop logs that and returns.
		prompts: &PromptCache{}, graph: &ivr.Graph{},
	}
	ctx, end := context.WithCancelCause(t.Context())
	c := &call{id: "call-1", srv: s, ctx: ctx, end: end, log: zerolog.Nop()}

	c.enqueue(ivr.Result{Queue: "loneliness_ko", Attributes: map[string]string{attrLanguage: "ko"}})
	end(nil)
	s.tasks.Wait()

	got := steps.list()
	queuedAt := slices.Index(got, "queued_at")
	entered := slices.Index(got, string(events.CallerEntered))
	if queuedAt < 0 || entered < 0 {
		t.Fatalf("steps = %v, want a queued_at write and a caller_entered event", got)
	}
	if queuedAt > entered {
		t.Errorf("steps = %v, want queued_at written before caller_entered", got)
	}
}
