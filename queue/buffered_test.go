package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"helpline/queue"
	"helpline/queue/queuetest"
)

func TestBufferedContract(t *testing.T) {
	queuetest.RunStoreContract(t, func(t *testing.T) queue.Store {
		return queue.NewBuffered(queue.NewMemoryStore())
	})
}

// errConnection stands for a network error of a store that cannot be
// reached.
var errConnection = errors.New("dial tcp 127.0.0.1:6379: connection refused")

// flakyStore is a MemoryStore that can be switched down, so that every
// method fails with errConnection.
type flakyStore struct {
	*queue.MemoryStore
	down atomic.Bool

	// mu guards enqueued.
	mu sync.Mutex
	// enqueued lists the call IDs the store took, in order.
	enqueued []string

	// gate, when set before use, makes Enqueue send the call ID to entered
	// and wait for gate to close.
	gate    chan struct{}
	entered chan string
}

func newFlakyStore() *flakyStore { return &flakyStore{MemoryStore: queue.NewMemoryStore()} }

func (s *flakyStore) fail() error {
	if s.down.Load() {
		return errConnection
	}
	return nil
}

func (s *flakyStore) Enqueue(ctx context.Context, c queue.Caller) error {
	if err := s.fail(); err != nil {
		return err
	}
	if s.gate != nil {
		s.entered <- c.CallID
		<-s.gate
	}
	err := s.MemoryStore.Enqueue(ctx, c)
	if err == nil {
		s.mu.Lock()
		s.enqueued = append(s.enqueued, c.CallID)
		s.mu.Unlock()
	}
	return err
}

func (s *flakyStore) enqueueOrder() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.enqueued)
}

func (s *flakyStore) Leave(ctx context.Context, id string) (queue.Caller, error) {
	if err := s.fail(); err != nil {
		return queue.Caller{}, err
	}
	return s.MemoryStore.Leave(ctx, id)
}

func (s *flakyStore) Waiting(ctx context.Context, q string) ([]queue.Caller, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.MemoryStore.Waiting(ctx, q)
}

func (s *flakyStore) Position(ctx context.Context, id string) (int, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.MemoryStore.Position(ctx, id)
}

func (s *flakyStore) AddCounselor(ctx context.Context, id string, now time.Time) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.MemoryStore.AddCounselor(ctx, id, now)
}

func (s *flakyStore) SetState(ctx context.Context, id string, state queue.CounselorState, reason string, now time.Time) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.MemoryStore.SetState(ctx, id, state, reason, now)
}

func (s *flakyStore) Counselor(ctx context.Context, id string) (queue.Counselor, error) {
	if err := s.fail(); err != nil {
		return queue.Counselor{}, err
	}
	return s.MemoryStore.Counselor(ctx, id)
}

func (s *flakyStore) Counselors(ctx context.Context) ([]queue.Counselor, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.MemoryStore.Counselors(ctx)
}

func (s *flakyStore) Reserve(ctx context.Context, req queue.ReserveRequest) (queue.Reservation, error) {
	if err := s.fail(); err != nil {
		return queue.Reservation{}, err
	}
	return s.MemoryStore.Reserve(ctx, req)
}

func (s *flakyStore) CancelReservation(ctx context.Context, r queue.Reservation, now time.Time) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.MemoryStore.CancelReservation(ctx, r, now)
}

func (s *flakyStore) Connect(ctx context.Context, r queue.Reservation, now time.Time) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.MemoryStore.Connect(ctx, r, now)
}

func (s *flakyStore) FinishCall(ctx context.Context, id string, wrapUpUntil, now time.Time) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.MemoryStore.FinishCall(ctx, id, wrapUpUntil, now)
}

func (s *flakyStore) EndWrapUp(ctx context.Context, id string, now time.Time) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.MemoryStore.EndWrapUp(ctx, id, now)
}

func (s *flakyStore) SetPriority(ctx context.Context, id string, priority int) (queue.Caller, error) {
	if err := s.fail(); err != nil {
		return queue.Caller{}, err
	}
	return s.MemoryStore.SetPriority(ctx, id, priority)
}

// bufferStart is the time the buffer tests start from.
var bufferStart = time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)

// replayDeadline bounds the wait for Run to write everything.
const replayDeadline = 10 * time.Second

// bufferFixture is a Buffered store around a flakyStore.
type bufferFixture struct {
	t     *testing.T
	inner *flakyStore
	store *queue.Buffered
	// replayed receives a value each time Run wrote something.
	replayed chan struct{}
}

func newBufferFixture(t *testing.T, opts ...queue.BufferOption) *bufferFixture {
	t.Helper()
	f := &bufferFixture{t: t, inner: newFlakyStore(), replayed: make(chan struct{}, 100)}
	opts = append([]queue.BufferOption{
		queue.WithRetryInterval(10 * time.Millisecond),
		queue.WithReplayNotify(func() { f.replayed <- struct{}{} }),
	}, opts...)
	f.store = queue.NewBuffered(f.inner, opts...)
	return f
}

// run starts Run until the test ends.
func (f *bufferFixture) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.store.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			f.t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

// waitReady waits until Run wrote everything, or probed the inner store,
// and the store is ready.
func (f *bufferFixture) waitReady() {
	f.t.Helper()
	deadline := time.After(replayDeadline)
	for f.store.Ready() != nil {
		select {
		case <-f.replayed:
		case <-deadline:
			f.t.Fatalf("store not ready after %v: %v", replayDeadline, f.store.Ready())
		}
	}
}

func (f *bufferFixture) enqueue(callID string, second int) {
	f.t.Helper()
	caller := queue.Caller{CallID: callID, Queue: "general", EnqueuedAt: bufferStart.Add(time.Duration(second) * time.Second)}
	if err := f.store.Enqueue(f.t.Context(), caller); err != nil {
		f.t.Fatalf("Enqueue(%s): %v", callID, err)
	}
}

// innerWaiting returns the call IDs waiting in the inner store.
func (f *bufferFixture) innerWaiting() []string {
	f.t.Helper()
	callers, err := f.inner.MemoryStore.Waiting(f.t.Context(), "general")
	if err != nil {
		f.t.Fatalf("inner Waiting: %v", err)
	}
	ids := make([]string, 0, len(callers))
	for _, c := range callers {
		ids = append(ids, c.CallID)
	}
	return ids
}

// onCall makes counselor c1 talk to caller call-1 in the inner store.
func (f *bufferFixture) onCall() {
	f.t.Helper()
	ctx := f.t.Context()
	inner := f.inner.MemoryStore
	if err := inner.AddCounselor(ctx, "c1", bufferStart); err != nil {
		f.t.Fatal(err)
	}
	if err := inner.SetState(ctx, "c1", queue.StateAvailable, "", bufferStart); err != nil {
		f.t.Fatal(err)
	}
	f.enqueue("call-1", 0)
	r, err := inner.Reserve(ctx, queue.ReserveRequest{CallID: "call-1", Now: bufferStart})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := inner.Connect(ctx, r, bufferStart); err != nil {
		f.t.Fatal(err)
	}
}

func TestBufferedKeepsOrderAcrossOutage(t *testing.T) {
	f := newBufferFixture(t)
	f.enqueue("before", 0)
	f.inner.down.Store(true)

	f.enqueue("held-1", 1)
	f.enqueue("held-2", 2)
	if _, err := f.store.Waiting(t.Context(), "general"); !errors.Is(err, errConnection) {
		t.Errorf("Waiting while down = %v, want %v", err, errConnection)
	}
	f.inner.down.Store(false)
	f.enqueue("after", 3)

	if got := f.store.Held(); got != 3 {
		t.Errorf("Held before Run = %d, want 3: a caller after the outage waits behind the held ones", got)
	}
	f.run()
	f.waitReady()

	want := []string{"before", "held-1", "held-2", "after"}
	if got := f.inner.enqueueOrder(); !slices.Equal(got, want) {
		t.Errorf("inner enqueue order = %v, want %v", got, want)
	}
	if got := f.innerWaiting(); !slices.Equal(got, want) {
		t.Errorf("inner Waiting = %v, want %v", got, want)
	}
	held, err := f.store.Waiting(t.Context(), "general")
	if err != nil {
		t.Fatalf("Waiting: %v", err)
	}
	if got, want := held[1].EnqueuedAt, bufferStart.Add(time.Second); !got.Equal(want) {
		t.Errorf("EnqueuedAt of held-1 = %v, want %v", got, want)
	}
}

func TestBufferedFullBuffer(t *testing.T) {
	f := newBufferFixture(t, queue.WithBufferSize(2))
	f.inner.down.Store(true)
	f.enqueue("held-1", 1)
	f.enqueue("held-2", 2)

	err := f.store.Enqueue(t.Context(), queue.Caller{CallID: "held-3", Queue: "general", EnqueuedAt: bufferStart})
	if !errors.Is(err, queue.ErrBufferFull) {
		t.Fatalf("Enqueue into a full buffer = %v, want ErrBufferFull", err)
	}

	if _, err := f.store.Leave(t.Context(), "held-1"); err != nil {
		t.Fatalf("Leave(held-1): %v", err)
	}
	f.enqueue("held-3", 3)
	if got := f.store.Held(); got != 2 {
		t.Errorf("Held = %d, want 2", got)
	}
}

func TestBufferedLeaveOfHeldCaller(t *testing.T) {
	f := newBufferFixture(t)
	f.inner.down.Store(true)
	f.enqueue("held-1", 1)
	f.enqueue("held-2", 2)

	left, err := f.store.Leave(t.Context(), "held-1")
	if err != nil {
		t.Fatalf("Leave(held-1): %v", err)
	}
	if left.CallID != "held-1" || left.Queue != "general" || !left.EnqueuedAt.Equal(bufferStart.Add(time.Second)) {
		t.Errorf("Leave returned %+v, want held-1 as it was enqueued", left)
	}
	if _, err := f.store.Leave(t.Context(), "held-1"); !errors.Is(err, queue.ErrNotWaiting) {
		t.Errorf("second Leave(held-1) = %v, want ErrNotWaiting", err)
	}
	if got, err := f.store.Position(t.Context(), "held-2"); err != nil || got != 1 {
		t.Errorf("Position(held-2) = %d, %v, want 1", got, err)
	}

	f.inner.down.Store(false)
	f.run()
	f.waitReady()
	if got := f.innerWaiting(); !slices.Equal(got, []string{"held-2"}) {
		t.Errorf("inner Waiting = %v, want [held-2]", got)
	}
}

func TestBufferedLeaveWhileWriting(t *testing.T) {
	f := newBufferFixture(t)
	f.inner.down.Store(true)
	f.enqueue("held-1", 1)
	f.inner.gate, f.inner.entered = make(chan struct{}), make(chan string, 1)
	f.inner.down.Store(false)
	f.run()

	select {
	case <-f.inner.entered:
	case <-time.After(replayDeadline):
		t.Fatal("Run did not enqueue the held caller")
	}
	left, err := f.store.Leave(t.Context(), "held-1")
	close(f.inner.gate)

	if err != nil || left.CallID != "held-1" {
		t.Fatalf("Leave during the write = %+v, %v, want held-1", left, err)
	}
	f.waitReady()
	if got := f.innerWaiting(); len(got) != 0 {
		t.Errorf("inner Waiting = %v, want none: the caller left while being written", got)
	}
}

func TestBufferedHeldCallerPriority(t *testing.T) {
	f := newBufferFixture(t)
	f.inner.down.Store(true)
	f.enqueue("held-1", 1)
	f.enqueue("held-2", 2)

	raised, err := f.store.SetPriority(t.Context(), "held-2", 10)
	if err != nil {
		t.Fatalf("SetPriority(held-2): %v", err)
	}
	if raised.Priority != 10 {
		t.Errorf("SetPriority returned priority %d, want 10", raised.Priority)
	}
	if got, err := f.store.Position(t.Context(), "held-2"); err != nil || got != 1 {
		t.Errorf("Position(held-2) = %d, %v, want 1", got, err)
	}

	f.inner.down.Store(false)
	f.run()
	f.waitReady()
	if got := f.innerWaiting(); !slices.Equal(got, []string{"held-2", "held-1"}) {
		t.Errorf("inner Waiting = %v, want [held-2 held-1]", got)
	}
}

func TestBufferedFinishCallAfterRecovery(t *testing.T) {
	f := newBufferFixture(t)
	f.onCall()
	f.inner.down.Store(true)

	end := bufferStart.Add(time.Minute)
	if err := f.store.FinishCall(t.Context(), "c1", end.Add(30*time.Second), end); err != nil {
		t.Fatalf("FinishCall while down = %v, want nil", err)
	}
	if err := f.store.EndWrapUp(t.Context(), "c1", end.Add(10*time.Second)); err != nil {
		t.Fatalf("EndWrapUp while down = %v, want nil", err)
	}
	if err := f.store.Ready(); err == nil || !strings.Contains(err.Error(), "2 state changes") {
		t.Errorf("Ready while down = %v, want an error counting 2 state changes", err)
	}

	f.inner.down.Store(false)
	f.run()
	f.waitReady()
	c, err := f.store.Counselor(t.Context(), "c1")
	if err != nil {
		t.Fatalf("Counselor: %v", err)
	}
	if c.State != queue.StateAvailable {
		t.Errorf("c1 state = %s, want available after FinishCall then EndWrapUp", c.State)
	}
}

func TestBufferedJournaledDomainErrorDropped(t *testing.T) {
	f := newBufferFixture(t)
	f.onCall()
	f.inner.down.Store(true)

	if err := f.store.EndWrapUp(t.Context(), "c1", bufferStart); err != nil {
		t.Fatalf("EndWrapUp while down = %v, want nil", err)
	}
	if err := f.store.SetState(t.Context(), "c1", queue.StateLoggedOut, "", bufferStart); err != nil {
		t.Fatalf("SetState while down = %v, want nil", err)
	}

	f.inner.down.Store(false)
	f.run()
	f.waitReady()
	c, err := f.store.Counselor(t.Context(), "c1")
	if err != nil {
		t.Fatalf("Counselor: %v", err)
	}
	if c.State != queue.StateOnCall || !c.LogoutAfterCall {
		t.Errorf("c1 = %s with LogoutAfterCall %v, want on_call with a logout after the call", c.State, c.LogoutAfterCall)
	}
}

func TestBufferedDomainErrorsPassThrough(t *testing.T) {
	f := newBufferFixture(t)
	f.enqueue("call-1", 0)

	err := f.store.Enqueue(t.Context(), queue.Caller{CallID: "call-1", Queue: "general", EnqueuedAt: bufferStart})
	if !errors.Is(err, queue.ErrAlreadyQueued) {
		t.Errorf("duplicate Enqueue = %v, want ErrAlreadyQueued", err)
	}
	err = f.store.FinishCall(t.Context(), "nobody", bufferStart, bufferStart)
	if !errors.Is(err, queue.ErrUnknownCounselor) {
		t.Errorf("FinishCall of an unknown counselor = %v, want ErrUnknownCounselor", err)
	}
	if err := f.store.Ready(); err != nil {
		t.Errorf("Ready after domain errors = %v, want nil", err)
	}
	if got := f.store.Held(); got != 0 {
		t.Errorf("Held = %d, want 0", got)
	}
}

func TestBufferedLeaveOfWrittenCaller(t *testing.T) {
	f := newBufferFixture(t)
	f.enqueue("call-1", 5)
	f.inner.down.Store(true)

	left, err := f.store.Leave(t.Context(), "call-1")
	if err != nil {
		t.Fatalf("Leave while down = %v, want nil", err)
	}
	if !left.EnqueuedAt.Equal(bufferStart.Add(5 * time.Second)) {
		t.Errorf("Leave returned EnqueuedAt %v, want the caller as enqueued", left.EnqueuedAt)
	}
	if _, err := f.store.Leave(t.Context(), "stranger"); !errors.Is(err, queue.ErrNotWaiting) {
		t.Errorf("Leave of a caller never enqueued = %v, want ErrNotWaiting", err)
	}

	f.inner.down.Store(false)
	f.run()
	f.waitReady()
	if got := f.innerWaiting(); len(got) != 0 {
		t.Errorf("inner Waiting = %v, want none", got)
	}
}

func TestBufferedExpired(t *testing.T) {
	var clock atomic.Pointer[time.Time]
	clock.Store(&bufferStart)
	f := newBufferFixture(t,
		queue.WithBufferMaxWait(time.Minute),
		queue.WithBufferClock(func() time.Time { return *clock.Load() }))
	f.inner.down.Store(true)
	f.enqueue("held-1", 0)
	later := bufferStart.Add(30 * time.Second)
	clock.Store(&later)
	f.enqueue("held-2", 30)

	tests := []struct {
		name  string
		after time.Duration
		want  []string
	}{
		{name: "before max wait", after: 59 * time.Second, want: nil},
		{name: "first reaches max wait", after: time.Minute, want: []string{"held-1"}},
		{name: "reported once", after: 80 * time.Second, want: nil},
		{name: "second reaches max wait", after: 90 * time.Second, want: []string{"held-2"}},
	}
	for _, tt := range tests {
		got := callIDsOf(f.store.Expired(bufferStart.Add(tt.after)))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Expired = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := f.store.Held(); got != 2 {
		t.Errorf("Held = %d, want 2: reported callers stay in line", got)
	}
}

func TestBufferedReady(t *testing.T) {
	f := newBufferFixture(t)
	if err := f.store.Ready(); err != nil {
		t.Fatalf("Ready of a new store = %v, want nil", err)
	}
	f.inner.down.Store(true)

	if _, err := f.store.Counselors(t.Context()); !errors.Is(err, errConnection) {
		t.Errorf("Counselors while down = %v, want %v", err, errConnection)
	}
	if err := f.store.Ready(); !errors.Is(err, errConnection) {
		t.Errorf("Ready after a failed read = %v, want an error wrapping %v", err, errConnection)
	}
	f.enqueue("held-1", 1)
	if err := f.store.Ready(); err == nil || !strings.Contains(err.Error(), "1 callers held") {
		t.Errorf("Ready with a held caller = %v, want an error counting 1 caller", err)
	}

	f.inner.down.Store(false)
	f.run()
	f.waitReady()
}

func TestBufferedCallerContextEnded(t *testing.T) {
	f := newBufferFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	err := f.store.Enqueue(ctx, queue.Caller{CallID: "call-1", Queue: "general", EnqueuedAt: bufferStart})

	if !errors.Is(err, context.Canceled) {
		t.Errorf("Enqueue with an ended context = %v, want context.Canceled", err)
	}
	if got := f.store.Held(); got != 0 {
		t.Errorf("Held = %d, want 0", got)
	}
}

func callIDsOf(callers []queue.Caller) []string {
	var ids []string
	for _, c := range callers {
		ids = append(ids, c.CallID)
	}
	return ids
}

// The message of Ready is public on /readyz, so it must not carry the inner
// error, which names addresses.
func TestBufferedReadyMessage(t *testing.T) {
	f := newBufferFixture(t)
	f.inner.down.Store(true)
	f.enqueue("held-1", 1)

	got := fmt.Sprint(f.store.Ready())

	want := "queue store unreachable: 1 callers held, 0 state changes waiting"
	if got != want {
		t.Errorf("Ready = %q, want %q", got, want)
	}
}

func TestBufferedSizeZeroHoldsNobody(t *testing.T) {
	f := newBufferFixture(t, queue.WithBufferSize(0))
	f.inner.down.Store(true)

	err := f.store.Enqueue(t.Context(), queue.Caller{CallID: "call-1", Queue: "general", EnqueuedAt: bufferStart})

	if !errors.Is(err, queue.ErrBufferFull) {
		t.Errorf("Enqueue while down with size 0 = %v, want ErrBufferFull", err)
	}
}

func TestBufferedReadyAfterIdleOutage(t *testing.T) {
	f := newBufferFixture(t)
	f.inner.down.Store(true)
	if _, err := f.store.Waiting(t.Context(), "general"); err == nil {
		t.Fatal("Waiting while down succeeded, want an error")
	}
	if err := f.store.Ready(); err == nil {
		t.Fatal("Ready after a failed read = nil, want an error")
	}

	f.inner.down.Store(false)
	f.run()

	f.waitReady()
}
