package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/queue"
	"helpline/records"
	"helpline/web"
)

// errDraining is the /readyz reason of a server that drains its calls
// after SIGTERM.
var errDraining = errors.New("shutting down: new calls are rejected while calls in progress end")

// recordsPingTimeout bounds the /readyz check of the records database.
const recordsPingTimeout = 2 * time.Second

// errRecordsUnreachable is the /readyz reason of a records database that
// does not respond. It names no address, because /readyz needs no token.
var errRecordsUnreachable = errors.New("records database not responding: new call records cannot be written")

// spooledError is the /readyz reason of a records store whose writes fail
// while the spool holds call records and events in memory.
type spooledError struct {
	stats records.SpoolStats
}

func (e spooledError) Error() string {
	return fmt.Sprintf("records store failing since %s: %d of %d call record and event writes held in memory, %d dropped; calls are still answered",
		e.stats.Since.UTC().Format(time.RFC3339), e.stats.Depth, e.stats.Max, e.stats.Dropped)
}

// recordsCheck is the /readyz condition that the records store takes
// writes: the spool holds nothing, and the database responds.
//
// A node whose records sit in memory returns 503, so that a load balancer
// sends new calls to a node that can record them. The node still takes
// every call that reaches it, but a crash would lose the held records, so
// it should get no more calls than it must.
func recordsCheck(store *records.Store, spool *records.Spool) web.ReadyCheck {
	return web.ReadyCheck{Name: "records", Check: func() error {
		if spool != nil {
			if stats := spool.Stats(); stats.Unavailable {
				return spooledError{stats: stats}
			}
		}
		ctx, stop := context.WithTimeout(context.Background(), recordsPingTimeout)
		defer stop()
		if err := store.Ping(ctx); err != nil {
			return errRecordsUnreachable
		}
		return nil
	}}
}

// readyChecks are the conditions of /readyz: the server is not draining,
// and the queue store, when it reports readiness (queue.Buffered does),
// reaches its state and has nothing left to write.
func readyChecks(q queue.Store, draining func() bool) []web.ReadyCheck {
	checks := []web.ReadyCheck{{Name: "draining", Check: func() error {
		if draining() {
			return errDraining
		}
		return nil
	}}}
	if reporter, ok := q.(web.ReadyReporter); ok {
		checks = append(checks, web.ReadyCheck{Name: "queue", Check: reporter.Ready})
	}
	return checks
}

// newOutageBuffer wraps a shared queue store in the outage buffer sized by
// cluster.buffer_size and cluster.buffer_max_wait. notify wakes the
// distributors once held callers are written. The caller runs the
// returned store's Run until shutdown.
func newOutageBuffer(c config.Cluster, inner queue.Store, notify func(), log zerolog.Logger) *queue.Buffered {
	return queue.NewBuffered(inner,
		queue.WithBufferSize(c.BufferSize),
		queue.WithBufferMaxWait(c.BufferMaxWait),
		queue.WithReplayNotify(notify),
		queue.WithBufferLogger(log.With().Str("component", "queue_buffer").Logger()),
	)
}
