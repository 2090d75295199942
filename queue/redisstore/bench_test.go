package redisstore_test

import (
	"fmt"
	"testing"

	"helpline/queue"
)

// BenchmarkReserve measures one Reserve against a local redis-server, with
// a number of available counselors that the script ranks.
func BenchmarkReserve(b *testing.B) {
	for _, counselors := range []int{10, 100} {
		b.Run(fmt.Sprintf("counselors=%d", counselors), func(b *testing.B) {
			store := newShared(b, nodeA).stores[0]
			ctx := b.Context()
			for i := range counselors {
				id := fmt.Sprintf("c%03d", i)
				if err := store.AddCounselor(ctx, id, at(0)); err != nil {
					b.Fatalf("AddCounselor: %v", err)
				}
				if err := store.SetState(ctx, id, queue.StateAvailable, "", at(i)); err != nil {
					b.Fatalf("SetState: %v", err)
				}
			}
			if err := store.Enqueue(ctx, queue.Caller{CallID: "call-1", Queue: "general", EnqueuedAt: at(0)}); err != nil {
				b.Fatalf("Enqueue: %v", err)
			}

			for b.Loop() {
				r, err := store.Reserve(ctx, queue.ReserveRequest{CallID: "call-1", Now: at(1000)})
				if err != nil {
					b.Fatalf("Reserve: %v", err)
				}
				b.StopTimer()
				if err := store.CancelReservation(ctx, r, at(1000)); err != nil {
					b.Fatalf("CancelReservation: %v", err)
				}
				b.StartTimer()
			}
		})
	}
}
