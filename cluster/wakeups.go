package cluster

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// watchRetryDelay is the pause before watching again after the watch
// failed, such as when Redis could not be reached.
const watchRetryDelay = time.Second

// Watcher delivers the wake-ups of every node. queue.NodeStore implements
// it.
type Watcher interface {
	Watch(ctx context.Context, fn func(queue string)) error
}

// RunWakeups passes every wake-up of w to notify until ctx ends. A queue
// name of "" means every queue. A failed watch is logged and started again
// after a second. While it is down, other nodes' changes reach this node at
// its distributors' own timers only.
func RunWakeups(ctx context.Context, w Watcher, notify func(queue string), log zerolog.Logger) {
	failures := 0 // since RunWakeups began
	for ctx.Err() == nil {
		err := w.Watch(ctx, notify)
		if ctx.Err() != nil {
			return
		}
		failures++
		log.Error().Err(err).Int("failures", failures).Dur("retry_in", watchRetryDelay).
			Msg("watching other nodes' wake-ups failed, watching again")
		// A wake-up may have been missed while the watch was down.
		notify("")
		select {
		case <-ctx.Done():
		case <-time.After(watchRetryDelay):
		}
	}
}
