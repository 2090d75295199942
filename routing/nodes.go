package routing

import (
	"time"

	"helpline/queue"
)

// foreignRecheck is the delay before the next walk after a walk held back
// one of its own callers for a caller of another node. The other node's
// offer to that caller does not wake this loop, so a timer does.
const foreignRecheck = time.Second

// WithNode makes the Distributor one of several nodes sharing a store. It
// serves only the callers whose Node is id or empty, because only the node
// holding a call can ring a counselor for it. The default, an empty id,
// serves every caller.
//
// A caller of another node that has no offer out still counts in the walk.
// The walk skips this node's callers whose priority is below that caller's.
// So a free counselor is not taken by a less urgent caller only because
// that caller's node walked first. Callers of the same priority are not held
// back, so a counselor never stays free while the other node's loop is busy,
// at the cost of strict arrival order across nodes within one priority.
func WithNode(id string) Option {
	return func(d *Distributor) { d.node = id }
}

// foreign reports whether caller is held by another node.
func (d *Distributor) foreign(caller queue.Caller) bool {
	return d.node != "" && caller.Node != "" && caller.Node != d.node
}

// foreignBar is the highest priority of a caller of another node without an
// offer out that the walk has passed so far.
type foreignBar struct {
	set      bool
	priority int
}

// note raises the bar for a caller of another node without an offer out.
func (b *foreignBar) note(caller queue.Caller) {
	if caller.OfferedTo != "" {
		return
	}
	if !b.set || caller.Priority > b.priority {
		b.set, b.priority = true, caller.Priority
	}
}

// holdsBack reports whether an own caller must wait for a more urgent
// caller of another node.
func (b *foreignBar) holdsBack(caller queue.Caller) bool {
	return b.set && caller.Priority < b.priority
}
