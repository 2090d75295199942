package queue

import (
	"context"
	"time"
)

// Reclaimed is what ReclaimNode took back from a stopped node.
type Reclaimed struct {
	Callers  []Caller // waiting callers of the node, removed from their queues
	Released []string // counselors whose offer from the node was cancelled (now available or logged_out)
	OnCall   []string // counselors on a call held by the node; still on_call: the caller of ReclaimNode calls FinishCall for each
}

// NodeStore is a Store shared by several nodes.
type NodeStore interface {
	Store
	// Heartbeat sets node's liveness key with ttl and adds node to the known nodes.
	Heartbeat(ctx context.Context, node string, ttl time.Duration) error
	// StoppedNodes returns known nodes whose liveness key has expired.
	StoppedNodes(ctx context.Context) ([]string, error)
	// ClaimNode takes the lock for reclaiming node for claimant for ttl; false when another node holds it.
	ClaimNode(ctx context.Context, node, claimant string, ttl time.Duration) (bool, error)
	// ReclaimNode removes node's waiting callers and releases its offers (idempotent).
	ReclaimNode(ctx context.Context, node string, now time.Time) (Reclaimed, error)
	// ForgetNode removes node from the known nodes once everything is reclaimed.
	ForgetNode(ctx context.Context, node string) error
	// Watch calls fn with a queue name ("" meaning every queue) whenever a change
	// may allow a new offer (caller enqueued, counselor freed, priority raised),
	// on any node, until ctx ends. Delivered through Redis pub/sub.
	Watch(ctx context.Context, fn func(queue string)) error
}
