package queue_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"helpline/queue"
)

// BenchmarkMemoryStoreWaitingCaller measures the live heap that one
// waiting caller adds to the memory store, with the attributes the IVR
// sets (language and caller_type). Each operation enqueues
// callersPerRound callers into a new store and reads the live heap
// after a forced collection, before and after.
func BenchmarkMemoryStoreWaitingCaller(b *testing.B) {
	const callersPerRound = 1000
	ctx := context.Background()
	start := time.Now()

	var bytesPerCaller float64
	for b.Loop() {
		store := queue.NewMemoryStore()
		before := liveHeap()
		for i := range callersPerRound {
			caller := queue.Caller{
				CallID:     fmt.Sprintf("%d-%d@127.0.0.1", i, 4242),
				Queue:      "loneliness_ko",
				EnqueuedAt: start.Add(time.Duration(i) * time.Millisecond),
				Attributes: map[string]string{"language": "ko", "caller_type": "self"},
			}
			if err := store.Enqueue(ctx, caller); err != nil {
				b.Fatalf("Enqueue: %v", err)
			}
		}
		after := liveHeap()
		runtime.KeepAlive(store)
		bytesPerCaller = float64(after-before) / callersPerRound
	}
	b.ReportMetric(bytesPerCaller, "B/caller")
}

// liveHeap returns the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapAlloc
}
