package sip

import (
	"context"
	"sync"
)

// callTable holds the calls in progress by call id.
type callTable struct {
	mu sync.Mutex
	// calls is guarded by mu.
	calls map[string]*call
	// empty is closed and replaced whenever calls becomes empty; guarded by mu.
	empty chan struct{}
}

func newCallTable() *callTable {
	empty := make(chan struct{})
	close(empty)
	return &callTable{calls: make(map[string]*call), empty: empty}
}

func (t *callTable) add(c *call) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.calls) == 0 {
		t.empty = make(chan struct{})
	}
	t.calls[c.id] = c
}

func (t *callTable) remove(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.calls[id]; !ok {
		return
	}
	delete(t.calls, id)
	if len(t.calls) == 0 {
		close(t.empty)
	}
}

func (t *callTable) get(id string) (*call, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.calls[id]
	return c, ok
}

func (t *callTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.calls)
}

func (t *callTable) all() []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*call, 0, len(t.calls))
	for _, c := range t.calls {
		out = append(out, c)
	}
	return out
}

// waitEmpty waits until no call is in progress; false when ctx ended first.
func (t *callTable) waitEmpty(ctx context.Context) bool {
	for {
		t.mu.Lock()
		empty, n := t.empty, len(t.calls)
		t.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-empty:
		case <-ctx.Done():
			return false
		}
	}
}
