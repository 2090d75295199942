package main

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"helpline/cluster"
	"helpline/queue"
	"helpline/queue/redisstore"
	"helpline/records"
)

// The two constructors below connect shared mode to the Redis queue store
// and to the records store's per-node close. A nil one makes shared mode
// refuse to start with an error that names the missing part. Embedded mode
// never calls them.
var (
	// openSharedStore returns the queue store in Redis that node shares
	// with the other nodes through client.
	openSharedStore = func(client redis.UniversalClient, node string) queue.NodeStore {
		return redisstore.New(client, node)
	}

	// markNodeInterrupted closes node's open call records in store as
	// interrupted at now and returns them for the callbacks of the callers
	// who were waiting.
	markNodeInterrupted = closeNodeRecords
)

// closeNodeRecords closes node's open call records as interrupted and
// describes each for the watchdog. A caller counts as waiting when the
// record shows a queue but no counselor's answer.
func closeNodeRecords(ctx context.Context, store *records.Store, node string, now time.Time) ([]cluster.InterruptedCall, error) {
	closed, err := store.MarkNodeInterrupted(ctx, node, now)
	if err != nil {
		return nil, err
	}
	calls := make([]cluster.InterruptedCall, 0, len(closed))
	for _, rec := range closed {
		calls = append(calls, cluster.InterruptedCall{
			CallID:   rec.CallID,
			Queue:    rec.Queue,
			Number:   rec.CallerNumber,
			Withheld: rec.CallerWithheld,
			Waiting:  !rec.QueuedAt.IsZero() && rec.CounselorAnsweredAt.IsZero(),
			QueuedAt: rec.QueuedAt,
		})
	}
	return calls, nil
}
