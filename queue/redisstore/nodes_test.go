package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"helpline/queue"
	"helpline/queue/redisstore"
)

// Node names of the node tests.
const (
	nodeA = "node-a"
	nodeB = "node-b"
	nodeC = "node-c"
)

// waitTimeout bounds every wait for a condition in these tests.
const waitTimeout = 10 * time.Second

// base is the time the node tests start from.
var base = time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)

// at returns base plus the given number of seconds.
func at(seconds int) time.Time {
	return base.Add(time.Duration(seconds) * time.Second)
}

// must fails the test when err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// login adds counselor id to s and makes it available, idle since idleSince.
func login(t *testing.T, s queue.Store, id string, idleSince time.Time) {
	t.Helper()
	must(t, "AddCounselor "+id, s.AddCounselor(t.Context(), id, idleSince))
	must(t, "SetState "+id, s.SetState(t.Context(), id, queue.StateAvailable, "", idleSince))
}

// enqueue adds caller callID to queue general through s, with s's node.
func enqueue(t *testing.T, s queue.Store, callID string, enqueuedAt time.Time) {
	t.Helper()
	caller := queue.Caller{CallID: callID, Queue: "general", EnqueuedAt: enqueuedAt}
	must(t, "Enqueue "+callID, s.Enqueue(t.Context(), caller))
}

// reserve reserves the longest idle counselor for callID through s.
func reserve(t *testing.T, s queue.Store, callID string, now time.Time) queue.Reservation {
	t.Helper()
	r, err := s.Reserve(t.Context(), queue.ReserveRequest{CallID: callID, Now: now})
	must(t, "Reserve "+callID, err)
	return r
}

// counselor returns counselor id from s.
func counselor(t *testing.T, s queue.Store, id string) queue.Counselor {
	t.Helper()
	c, err := s.Counselor(t.Context(), id)
	must(t, "Counselor "+id, err)
	return c
}

// waitFor polls check until it returns true, failing the test after
// waitTimeout.
func waitFor(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s", what, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStampsOwnNode(t *testing.T) {
	stores := newShared(t, nodeA, nodeB).stores
	a, b := stores[0], stores[1]
	login(t, a, "c1", at(1))
	enqueue(t, a, "call-1", at(2))

	waiting, err := b.Waiting(t.Context(), "general")
	must(t, "Waiting", err)
	if len(waiting) != 1 || waiting[0].Node != nodeA {
		t.Fatalf("Waiting = %+v, want call-1 on %s", waiting, nodeA)
	}

	reserve(t, b, "call-1", at(3))
	if got := counselor(t, a, "c1").Node; got != nodeB {
		t.Errorf("offered counselor Node = %q, want %s, the node that reserved", got, nodeB)
	}
}

func TestReclaimNode(t *testing.T) {
	stores := newShared(t, nodeA, nodeB).stores
	a, b := stores[0], stores[1]
	for i, id := range []string{"c1", "c2", "c3", "c4"} {
		login(t, a, id, at(i+1))
	}
	enqueue(t, a, "call-a1", at(10))
	enqueue(t, a, "call-a2", at(11))
	enqueue(t, a, "call-a3", at(12))
	enqueue(t, b, "call-b1", at(13))
	enqueue(t, b, "call-b2", at(14))

	reserve(t, a, "call-a1", at(20)) // c1, offered by node-a for its own caller
	must(t, "logout c1", a.SetState(t.Context(), "c1", queue.StateLoggedOut, "", at(21)))
	reserve(t, a, "call-b1", at(22)) // c2, offered by node-a for a caller of node-b
	onCall := reserve(t, a, "call-a2", at(23))
	must(t, "Connect call-a2", a.Connect(t.Context(), onCall, at(24))) // c3 on a call held by node-a
	reserve(t, b, "call-b2", at(25))                                   // c4, offered by node-b

	got, err := b.ReclaimNode(t.Context(), nodeA, at(30))
	must(t, "ReclaimNode", err)

	var callIDs []string
	for _, caller := range got.Callers {
		callIDs = append(callIDs, caller.CallID)
	}
	if want := []string{"call-a1", "call-a3"}; !slices.Equal(callIDs, want) {
		t.Errorf("reclaimed callers = %v, want %v", callIDs, want)
	}
	if want := []string{"c1", "c2"}; !slices.Equal(got.Released, want) {
		t.Errorf("Released = %v, want %v", got.Released, want)
	}
	if want := []string{"c3"}; !slices.Equal(got.OnCall, want) {
		t.Errorf("OnCall = %v, want %v", got.OnCall, want)
	}

	if c := counselor(t, b, "c1"); c.State != queue.StateLoggedOut || c.Node != "" {
		t.Errorf("c1 = %s on %q, want logged_out with no node (logout was pending)", c.State, c.Node)
	}
	if c := counselor(t, b, "c2"); c.State != queue.StateAvailable || !c.IdleSince.Equal(at(2)) || c.Node != "" {
		t.Errorf("c2 = %s idle since %v on %q, want available idle since %v", c.State, c.IdleSince, c.Node, at(2))
	}
	if c := counselor(t, b, "c3"); c.State != queue.StateOnCall || c.CallID != "call-a2" {
		t.Errorf("c3 = %s with call %q, want on_call with call-a2 kept", c.State, c.CallID)
	}
	if c := counselor(t, b, "c4"); c.State != queue.StateOffered || c.Node != nodeB {
		t.Errorf("c4 = %s on %q, want offered by %s", c.State, c.Node, nodeB)
	}

	waiting, err := b.Waiting(t.Context(), "general")
	must(t, "Waiting", err)
	if len(waiting) != 2 || waiting[0].CallID != "call-b1" || waiting[0].OfferedTo != "" || waiting[1].OfferedTo != "c4" {
		t.Errorf("Waiting after reclaim = %+v, want call-b1 without offer and call-b2 offered to c4", waiting)
	}

	again, err := b.ReclaimNode(t.Context(), nodeA, at(31))
	must(t, "second ReclaimNode", err)
	if len(again.Callers) != 0 || len(again.Released) != 0 || !slices.Equal(again.OnCall, []string{"c3"}) {
		t.Errorf("second ReclaimNode = %+v, want only c3 on call", again)
	}

	must(t, "FinishCall c3", b.FinishCall(t.Context(), "c3", at(32), at(32)))
	if c := counselor(t, b, "c3"); c.State != queue.StateAvailable || c.Node != "" {
		t.Errorf("c3 after FinishCall = %s on %q, want available with no node", c.State, c.Node)
	}
}

func TestReclaimNodeRingAll(t *testing.T) {
	stores := newShared(t, nodeA, nodeB).stores
	a, b := stores[0], stores[1]
	login(t, a, "c1", at(1))
	login(t, a, "c2", at(2))
	enqueue(t, b, "call-b1", at(3))
	_, err := a.Reserve(t.Context(), queue.ReserveRequest{CallID: "call-b1", Now: at(4), Strategy: queue.StrategyRingAll})
	must(t, "Reserve ring_all", err)

	got, err := b.ReclaimNode(t.Context(), nodeA, at(5))
	must(t, "ReclaimNode", err)

	if want := []string{"c1", "c2"}; !slices.Equal(got.Released, want) {
		t.Errorf("Released = %v, want %v", got.Released, want)
	}
	if _, err := b.Reserve(t.Context(), queue.ReserveRequest{CallID: "call-b1", Now: at(6)}); err != nil {
		t.Errorf("Reserve after reclaim: %v, want the caller offerable again", err)
	}
}

func TestStoppedNodes(t *testing.T) {
	stores := newShared(t, nodeA, nodeB).stores
	a, b := stores[0], stores[1]
	const shortTTL = 200 * time.Millisecond

	must(t, "Heartbeat a", a.Heartbeat(t.Context(), nodeA, shortTTL))
	must(t, "Heartbeat b", b.Heartbeat(t.Context(), nodeB, time.Minute))

	waitFor(t, "node-a listed as stopped", func() bool {
		stopped, err := b.StoppedNodes(t.Context())
		must(t, "StoppedNodes", err)
		if slices.Contains(stopped, nodeB) {
			t.Fatalf("StoppedNodes = %v lists %s, whose liveness key is alive", stopped, nodeB)
		}
		return slices.Equal(stopped, []string{nodeA})
	})

	must(t, "ForgetNode", b.ForgetNode(t.Context(), nodeA))
	stopped, err := b.StoppedNodes(t.Context())
	must(t, "StoppedNodes after ForgetNode", err)
	if len(stopped) != 0 {
		t.Errorf("StoppedNodes after ForgetNode = %v, want none", stopped)
	}

	must(t, "Heartbeat a again", a.Heartbeat(t.Context(), nodeA, time.Minute))
	stopped, err = b.StoppedNodes(t.Context())
	must(t, "StoppedNodes after restart", err)
	if len(stopped) != 0 {
		t.Errorf("StoppedNodes after node-a came back = %v, want none", stopped)
	}
}

func TestHeartbeatRejectsShortTTL(t *testing.T) {
	stores := newShared(t, nodeA).stores
	if err := stores[0].Heartbeat(t.Context(), nodeA, time.Microsecond); err == nil {
		t.Error("Heartbeat with a TTL of 1µs succeeded, want an error")
	}
}

func TestClaimNode(t *testing.T) {
	stores := newShared(t, nodeB, nodeC).stores
	b, c := stores[0], stores[1]

	claim := func(s *redisstore.Store, claimant string, ttl time.Duration) bool {
		t.Helper()
		held, err := s.ClaimNode(t.Context(), nodeA, claimant, ttl)
		must(t, "ClaimNode for "+claimant, err)
		return held
	}

	if !claim(b, nodeB, time.Minute) {
		t.Fatal("first claim failed, want it to take the free lock")
	}
	if claim(c, nodeC, time.Minute) {
		t.Fatal("second claimant took a held lock")
	}
	if !claim(b, nodeB, time.Minute) {
		t.Error("holder's repeated claim failed, want it to keep the lock")
	}

	must(t, "ForgetNode", b.ForgetNode(t.Context(), nodeA))
	if !claim(c, nodeC, 100*time.Millisecond) {
		t.Fatal("claim after ForgetNode failed, want the lock dropped")
	}
	waitFor(t, "short lock expired", func() bool { return claim(b, nodeB, time.Minute) })
}

func TestWatchWakesOtherNode(t *testing.T) {
	shared := newShared(t, nodeA, nodeB)
	a, b := shared.stores[0], shared.stores[1]

	ctx, cancel := context.WithCancel(t.Context())
	wakeups := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		done <- a.Watch(ctx, func(queueName string) { wakeups <- queueName })
	}()
	waitFor(t, "watch subscribed", func() bool {
		channel := shared.prefix + "wake"
		counts, err := shared.client.PubSubNumSub(t.Context(), channel).Result()
		must(t, "PUBSUB NUMSUB", err)
		return counts[channel] > 0
	})

	enqueue(t, b, "call-1", at(1))
	expectWakeup(t, wakeups, "general")
	login(t, b, "c1", at(2))
	expectWakeup(t, wakeups, "")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch after cancel = %v, want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not return after its context ended")
	}
}

// expectWakeup waits for a wake-up with payload want, skipping others.
func expectWakeup(t *testing.T, wakeups <-chan string, want string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case got := <-wakeups:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("no wake-up %q within %s", want, waitTimeout)
		}
	}
}
