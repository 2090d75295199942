package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

// Names of the watchdog tests.
const (
	thisNode    = "node-a"
	stoppedNode = "node-b"
	testQueue   = "youth"
	testTTL     = 30 * time.Millisecond
	testWrapUp  = 45 * time.Second
)

// fixture is a Watchdog on fakes.
type fixture struct {
	store     *fakeNodeStore
	records   *fakeRecords
	callbacks *fakeCallbacks
	events    *eventLog
	notified  int
	w         *Watchdog
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		store:     newFakeNodeStore(testQueue),
		records:   &fakeRecords{open: make(map[string][]InterruptedCall)},
		callbacks: &fakeCallbacks{},
		events:    &eventLog{},
	}
	f.w = NewWatchdog(f.store, thisNode, testTTL,
		WithRecords(f.records),
		WithCallbacks(f.callbacks),
		WithWrapUp(func(string) time.Duration { return testWrapUp }),
		WithEvents(f.events),
		WithNotify(func() { f.notified++ }),
		WithLogger(zerolog.New(zerolog.NewTestWriter(t))),
		WithClock(func() time.Time { return t0 }),
	)
	// Heartbeats have reached the store for one TTL already.
	f.w.healthySince.Store(t0.Add(-testTTL).UnixNano())
	f.w.lastBeat.Store(t0.UnixNano())
	return f
}

// enqueue adds a caller held by node.
func (f *fixture) enqueue(t *testing.T, c queue.Caller) {
	t.Helper()
	c.Queue = testQueue
	if err := f.store.Enqueue(t.Context(), c); err != nil {
		t.Fatalf("Enqueue(%s): %v", c.CallID, err)
	}
}

// connect puts counselor id on a call with a caller of node.
func (f *fixture) connect(t *testing.T, id, callID, node string) {
	t.Helper()
	ctx := t.Context()
	if err := f.store.AddCounselor(ctx, id, t0); err != nil {
		t.Fatalf("AddCounselor: %v", err)
	}
	if err := f.store.SetState(ctx, id, queue.StateAvailable, "", t0); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	f.enqueue(t, queue.Caller{CallID: callID, Node: node, EnqueuedAt: t0})
	r, err := f.store.Reserve(ctx, queue.ReserveRequest{CallID: callID, Now: t0})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	if err := f.store.Connect(ctx, r, t0); err != nil {
		t.Fatalf("Connect: %v", err)
	}
}

// stoppedNodeState puts a stopped node's state into the fixture: two
// waiting callers (one with a number, one withheld), a waiting callback
// task, a counselor on one of its calls and a released offer.
func (f *fixture) stoppedNodeState(t *testing.T) {
	t.Helper()
	attributes := map[string]string{"language": "en"}
	f.enqueue(t, queue.Caller{CallID: "call-1", Node: stoppedNode, Priority: 1, EnqueuedAt: t0.Add(-time.Minute), Attributes: attributes})
	f.enqueue(t, queue.Caller{CallID: "call-2", Node: stoppedNode, EnqueuedAt: t0.Add(-30 * time.Second)})
	f.enqueue(t, queue.Caller{CallID: "cb-0011223344556677", Node: stoppedNode, Kind: queue.KindCallback, EnqueuedAt: t0.Add(-time.Hour)})
	f.enqueue(t, queue.Caller{CallID: "call-alive", Node: thisNode, EnqueuedAt: t0})
	f.connect(t, "1001", "call-talking", stoppedNode)
	f.store.held[stoppedNode] = queue.Reclaimed{Released: []string{"1002"}, OnCall: []string{"1001"}}

	f.records.open[stoppedNode] = []InterruptedCall{
		{CallID: "call-1", Queue: testQueue, Number: "01012345678", Waiting: true, QueuedAt: t0.Add(-time.Minute)},
		{CallID: "call-2", Queue: testQueue, Withheld: true, Waiting: true},
		{CallID: "call-talking", Queue: testQueue, Number: "01098765432"},
	}
	f.records.callbacks = []records.Callback{
		{TaskID: "cb-0011223344556677", CallID: "old-call", Queue: testQueue, State: records.CallbackPending, Number: "0212345678"},
		{TaskID: "cb-ffffffffffffffff", CallID: "other", Queue: testQueue, State: records.CallbackPending, Number: "0298765432"},
	}
}

func TestReclaimStoppedNode(t *testing.T) {
	f := newFixture(t)
	f.stoppedNodeState(t)
	f.store.stopped = [][]string{{stoppedNode, thisNode}}

	f.w.ReclaimStopped(t.Context())

	reclaimed, forgotten, _ := f.store.snapshot()
	if !slices.Equal(reclaimed, []string{stoppedNode}) || !slices.Equal(forgotten, []string{stoppedNode}) {
		t.Errorf("reclaimed %v and forgot %v, want only %s", reclaimed, forgotten, stoppedNode)
	}

	// call-2 has no number; call-talking was cut off mid-conversation and
	// is called back too.
	if len(f.callbacks.requests) != 2 || f.callbacks.requests[1].CallID != "call-talking" {
		t.Fatalf("callback requests = %+v, want call-1 and call-talking", f.callbacks.requests)
	}
	req := f.callbacks.requests[0]
	if req.TaskID != callback.TaskIDForCall("call-1") || req.CallID != "call-1" || req.Number != "01012345678" {
		t.Errorf("callback request = %+v, want call-1 with its number and derived task ID", req)
	}
	if req.Reason != callback.ReasonInterrupted || req.Priority != 1 || !req.EnqueuedAt.Equal(t0.Add(-time.Minute)) {
		t.Errorf("callback request place = %s priority %d at %v, want interrupted priority 1 at %v",
			req.Reason, req.Priority, req.EnqueuedAt, t0.Add(-time.Minute))
	}
	if req.Queue != testQueue || req.Attributes["language"] != "en" {
		t.Errorf("callback request queue %q attributes %v, want %q with language en", req.Queue, req.Attributes, testQueue)
	}

	if len(f.callbacks.restored) != 1 || f.callbacks.restored[0].TaskID != "cb-0011223344556677" {
		t.Errorf("restored tasks = %+v, want the stopped node's queued task only", f.callbacks.restored)
	}

	c, err := f.store.Counselor(t.Context(), "1001")
	if err != nil {
		t.Fatalf("Counselor: %v", err)
	}
	if c.State != queue.StateWrapUp || !c.WrapUpUntil.Equal(t0.Add(testWrapUp)) {
		t.Errorf("counselor 1001 = %s until %v, want wrap_up until %v", c.State, c.WrapUpUntil, t0.Add(testWrapUp))
	}
	states := f.events.ofType(events.CounselorState)
	if len(states) != 1 || states[0].Data["source"] != SourceNodeStopped || states[0].Data["to"] != string(queue.StateWrapUp) {
		t.Errorf("counselor_state events = %+v, want one to wrap_up from node_stopped", states)
	}

	stopped := f.events.ofType(events.NodeStopped)
	if len(stopped) != 1 {
		t.Fatalf("node_stopped events = %+v, want one", stopped)
	}
	want := map[string]string{
		"node": stoppedNode, "by": thisNode, "callers": "3", "offers_released": "1", "counselors_freed": "1",
		"records_closed": "3", "callbacks": "2", "callbacks_moved": "1", "callers_without_number": "1",
	}
	for key, value := range want {
		if got := stopped[0].Data[key]; got != value {
			t.Errorf("node_stopped %s = %q, want %q", key, got, value)
		}
	}

	if _, err := f.store.Position(t.Context(), "call-alive"); err != nil {
		t.Errorf("this node's caller left the queue: %v", err)
	}
	if f.notified == 0 {
		t.Error("distributors not woken after counselors were freed")
	}
}

func TestReclaimSkipsNodeLockedByAnother(t *testing.T) {
	f := newFixture(t)
	f.stoppedNodeState(t)
	f.store.stopped = [][]string{{stoppedNode}}
	f.store.claimAnswers = []bool{false}

	f.w.ReclaimStopped(t.Context())

	reclaimed, forgotten, _ := f.store.snapshot()
	if len(reclaimed) != 0 || len(forgotten) != 0 {
		t.Errorf("reclaimed %v and forgot %v, want nothing while another node holds the lock", reclaimed, forgotten)
	}
	if len(f.callbacks.requests) != 0 {
		t.Errorf("callback requests = %+v, want none", f.callbacks.requests)
	}
}

func TestReclaimSkipsRevivedNode(t *testing.T) {
	f := newFixture(t)
	f.stoppedNodeState(t)
	f.store.stopped = [][]string{{stoppedNode}, {}}

	f.w.ReclaimStopped(t.Context())

	reclaimed, forgotten, _ := f.store.snapshot()
	if len(reclaimed) != 0 || len(forgotten) != 0 {
		t.Errorf("reclaimed %v and forgot %v, want nothing for a node alive again", reclaimed, forgotten)
	}
}

func TestReclaimRepeatsAfterRecordsFailure(t *testing.T) {
	f := newFixture(t)
	f.stoppedNodeState(t)
	f.store.stopped = [][]string{{stoppedNode}}
	f.records.failures = 1

	f.w.ReclaimStopped(t.Context())

	_, forgotten, _ := f.store.snapshot()
	if len(forgotten) != 0 {
		t.Fatalf("forgot %v after the records failed, want the node kept for the next try", forgotten)
	}
	if len(f.callbacks.requests) != 0 {
		t.Fatalf("callback requests = %+v before the records answered, want none", f.callbacks.requests)
	}

	f.w.ReclaimStopped(t.Context())

	_, forgotten, _ = f.store.snapshot()
	if !slices.Equal(forgotten, []string{stoppedNode}) {
		t.Errorf("forgot %v, want %s once the second try finished", forgotten, stoppedNode)
	}
	if len(f.callbacks.requests) != 2 || f.callbacks.requests[0].TaskID != callback.TaskIDForCall("call-1") {
		t.Fatalf("callback requests = %+v, want call-1's task from the records, then call-talking's", f.callbacks.requests)
	}
	if got := f.callbacks.requests[0].EnqueuedAt; !got.Equal(t0.Add(-time.Minute)) {
		t.Errorf("callback EnqueuedAt = %v, want the record's queue time %v", got, t0.Add(-time.Minute))
	}
}

func TestReclaimWithoutCallbacks(t *testing.T) {
	f := newFixture(t)
	f.stoppedNodeState(t)
	f.store.stopped = [][]string{{stoppedNode}}
	WithCallbacks(nil)(f.w)

	f.w.ReclaimStopped(t.Context())

	_, forgotten, _ := f.store.snapshot()
	if !slices.Equal(forgotten, []string{stoppedNode}) {
		t.Errorf("forgot %v, want %s", forgotten, stoppedNode)
	}
	stopped := f.events.ofType(events.NodeStopped)
	if len(stopped) != 1 || stopped[0].Data["callbacks"] != "0" || stopped[0].Data["records_closed"] != "3" {
		t.Errorf("node_stopped events = %+v, want one with 3 records closed and no callback", stopped)
	}
}

func TestStartReclaimsOwnEarlierRun(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, queue.Caller{CallID: "stale", Node: thisNode, EnqueuedAt: t0.Add(-time.Minute)})
	f.records.open[thisNode] = []InterruptedCall{
		{CallID: "stale", Queue: testQueue, Number: "01012345678", Waiting: true},
	}

	if err := f.w.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}

	_, forgotten, calls := f.store.snapshot()
	want := []string{"claim " + thisNode, "reclaim " + thisNode, "heartbeat " + thisNode}
	if !slices.Equal(calls, want) {
		t.Errorf("store calls = %v, want %v", calls, want)
	}
	if len(forgotten) != 0 {
		t.Errorf("forgot %v, want this node kept", forgotten)
	}
	if len(f.callbacks.requests) != 1 || f.callbacks.requests[0].CallID != "stale" {
		t.Errorf("callback requests = %+v, want one for the stale caller", f.callbacks.requests)
	}
	if len(f.events.ofType(events.NodeStopped)) != 1 {
		t.Errorf("node_stopped events = %d, want 1 for the earlier run", len(f.events.ofType(events.NodeStopped)))
	}
}

func TestStartQuietWhenNothingLeft(t *testing.T) {
	f := newFixture(t)

	if err := f.w.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}

	if got := f.events.ofType(events.NodeStopped); len(got) != 0 {
		t.Errorf("node_stopped events = %+v, want none after a clean stop", got)
	}
}

func TestStartWaitsForAnotherReclaimer(t *testing.T) {
	f := newFixture(t)
	f.store.claimAnswers = []bool{false, false}

	if err := f.w.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}

	_, _, calls := f.store.snapshot()
	want := []string{"claim " + thisNode, "claim " + thisNode, "claim " + thisNode, "reclaim " + thisNode, "heartbeat " + thisNode}
	if !slices.Equal(calls, want) {
		t.Errorf("store calls = %v, want %v", calls, want)
	}
}

func TestStartEndsWithContext(t *testing.T) {
	f := newFixture(t)
	f.store.claimAnswers = slices.Repeat([]bool{false}, 1000)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	if err := f.w.Start(ctx); err == nil {
		t.Fatal("Start returned nil with the lock held by another node and the context ended")
	}
	if _, _, calls := f.store.snapshot(); slices.Contains(calls, "heartbeat "+thisNode) {
		t.Errorf("store calls = %v, want no heartbeat before the reclaim", calls)
	}
}

func TestRunHeartbeatsUntilStopped(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()

	waitFor(t, "three heartbeats", func() bool { return f.store.heartbeats() >= 3 })
	cancel()

	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s after its context ended")
	}
}

func TestReclaimWaitsOneTTLAfterStoreOutage(t *testing.T) {
	f := newFixture(t)
	f.stoppedNodeState(t)
	f.store.stopped = [][]string{{stoppedNode}, {stoppedNode}}
	now := t0
	f.w.now = func() time.Time { return now }

	f.w.noteBeat(errors.New("connection refused"))
	if err := f.w.Ready(); err == nil {
		t.Errorf("Ready after a failed heartbeat = nil, want an error")
	}
	f.w.noteBeat(nil)
	if err := f.w.Ready(); err != nil {
		t.Errorf("Ready after a heartbeat = %v, want nil", err)
	}
	f.w.ReclaimStopped(t.Context())
	if reclaimed, _, _ := f.store.snapshot(); len(reclaimed) != 0 {
		t.Fatalf("reclaimed %v right after the store came back, want nothing before one TTL", reclaimed)
	}

	for range 3 {
		now = now.Add(f.w.interval())
		f.w.noteBeat(nil)
	}
	f.w.ReclaimStopped(t.Context())
	if reclaimed, _, _ := f.store.snapshot(); !slices.Equal(reclaimed, []string{stoppedNode}) {
		t.Errorf("reclaimed %v one TTL after the store came back, want %s", reclaimed, stoppedNode)
	}
}

func TestReclaimWaitsOneTTLAfterHungHeartbeat(t *testing.T) {
	f := newFixture(t)
	f.stoppedNodeState(t)
	f.store.stopped = [][]string{{stoppedNode}, {stoppedNode}}
	now := t0
	f.w.now = func() time.Time { return now }
	f.w.noteBeat(nil)

	// The next heartbeat took as long as a Sentinel election.
	now = now.Add(testTTL)
	if err := f.w.Ready(); err == nil {
		t.Errorf("Ready while the heartbeat hangs = nil, want an error")
	}
	f.w.noteBeat(nil)
	f.w.ReclaimStopped(t.Context())
	if reclaimed, _, _ := f.store.snapshot(); len(reclaimed) != 0 {
		t.Fatalf("reclaimed %v right after a hung heartbeat, want nothing before one TTL", reclaimed)
	}
}

func TestReclaimSkipsListFromSlowStore(t *testing.T) {
	f := newFixture(t)
	f.stoppedNodeState(t)
	f.store.stopped = [][]string{{stoppedNode}}
	now := t0
	f.w.now = func() time.Time { return now }
	// The list arrives after a hang, as when Sentinel elects a new
	// primary during the call.
	f.store.onStopped = func() { now = now.Add(testTTL) }

	f.w.ReclaimStopped(t.Context())
	if reclaimed, _, _ := f.store.snapshot(); len(reclaimed) != 0 {
		t.Fatalf("reclaimed %v from a list that took a TTL to arrive, want nothing", reclaimed)
	}
}
