package routing_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"helpline/queue"
	"helpline/routing"
)

// BenchmarkFreeToOffer measures the routing decision in process: a
// counselor's wrap-up ends in the memory store, the distributor wakes,
// walks the waiting callers, reserves the counselor for the first caller
// and calls Offer. One operation runs from EndWrapUp to the Offer call.
// The offer is then answered and the call finished outside the timer, so
// that the counselor is in wrap-up again and a new caller replaces the
// one connected. With skill=ko every counselor has the queue's skill at
// one level, as in the example configuration: the walk then goes on past
// a caller nobody can take, and tries every caller behind it too.
func BenchmarkFreeToOffer(b *testing.B) {
	for _, skill := range []string{"none", "ko"} {
		for _, waiting := range []int{1, 100, 1000} {
			for _, counselors := range []int{1, 100} {
				name := fmt.Sprintf("skill=%s/waiting=%d/counselors=%d", skill, waiting, counselors)
				b.Run(name, func(b *testing.B) { benchmarkFreeToOffer(b, skill, waiting, counselors) })
			}
		}
	}
}

func benchmarkFreeToOffer(b *testing.B, skill string, waiting, counselors int) {
	ctx := b.Context()
	memory := queue.NewMemoryStore()
	offerer := newFakeOfferer()
	options := []routing.Option{routing.WithQueue(testQueue)}
	if skill != "none" {
		levels := map[string]int{}
		for i := range counselors {
			levels[fmt.Sprintf("c%03d", i)] = 5
		}
		options = append(options, routing.WithSkill(skill, levels, 0))
	}
	dist := routing.NewDistributor(memory, offerer, options...)

	start := time.Now()
	for i := range waiting {
		enqueueAt(b, memory, fmt.Sprintf("caller-%d", i), start)
	}
	// Every counselor but the first is on break, so each operation frees
	// the first one and its offer goes to that counselor.
	const free = "c000"
	for i := range counselors {
		id := fmt.Sprintf("c%03d", i)
		if err := memory.AddCounselor(ctx, id, start); err != nil {
			b.Fatalf("AddCounselor(%s): %v", id, err)
		}
		if err := memory.SetState(ctx, id, queue.StateAvailable, "", start); err != nil {
			b.Fatalf("SetState(%s, available): %v", id, err)
		}
		if id == free {
			continue
		}
		if err := memory.SetState(ctx, id, queue.StateBreak, "benchmark", start); err != nil {
			b.Fatalf("SetState(%s, break): %v", id, err)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- dist.Run(runCtx) }()
	b.Cleanup(func() {
		cancel()
		offerer.close()
		<-done
	})

	// The first offer puts the counselor in wrap-up.
	next := waiting
	answerAndFinish(b, memory, awaitOffer(b, offerer), free)
	enqueueAt(b, memory, fmt.Sprintf("caller-%d", next), time.Now())
	next++

	b.ResetTimer()
	for b.Loop() {
		if err := memory.EndWrapUp(ctx, free, time.Now()); err != nil {
			b.Fatalf("EndWrapUp: %v", err)
		}
		dist.Notify()
		call := awaitOffer(b, offerer)

		b.StopTimer()
		answerAndFinish(b, memory, call, free)
		enqueueAt(b, memory, fmt.Sprintf("caller-%d", next), time.Now())
		next++
		b.StartTimer()
	}
}

func enqueueAt(b *testing.B, memory *queue.MemoryStore, callID string, at time.Time) {
	caller := queue.Caller{CallID: callID, Queue: testQueue, EnqueuedAt: at}
	if err := memory.Enqueue(b.Context(), caller); err != nil {
		b.Fatalf("Enqueue(%s): %v", callID, err)
	}
}

func awaitOffer(b *testing.B, offerer *fakeOfferer) *offerCall {
	select {
	case call := <-offerer.calls:
		return call
	case <-time.After(eventTimeout):
		b.Fatalf("no offer within %v", eventTimeout)
		return nil
	}
}

// answerAndFinish connects the offered caller, ends the offer and puts the
// counselor in a wrap-up that only EndWrapUp ends.
func answerAndFinish(b *testing.B, memory *queue.MemoryStore, call *offerCall, counselor string) {
	if got := call.req.Reservation.CounselorID; got != counselor {
		b.Fatalf("offer to %s, want %s", got, counselor)
	}
	if err := call.req.Confirm(); err != nil {
		b.Fatalf("Confirm: %v", err)
	}
	call.respond(routing.OfferResult{Outcome: routing.Answered})
	now := time.Now()
	if err := memory.FinishCall(b.Context(), counselor, now.Add(time.Hour), now); err != nil {
		b.Fatalf("FinishCall: %v", err)
	}
}
