package sip

import (
	"sync"
	"time"
)

// handlerDrainTimeout bounds how long Close waits for the request
// handlers that are still running.
const handlerDrainTimeout = 5 * time.Second

// inflight counts the request handlers that are running, so that Close
// waits for them before the caller closes the records store they write
// to. A handler that outlives Close loses the record it writes.
type inflight struct {
	mu sync.Mutex
	// closing is set once Close starts; guarded by mu.
	closing bool
	// running counts the handlers between enter and leave; guarded by mu.
	running int
	// idle is closed when closing is set and running reaches 0; guarded
	// by mu.
	idle chan struct{}
}

// enter registers a handler that starts, and reports false once Close has
// started: such a request is dropped.
func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return false
	}
	f.running++
	return true
}

// leave unregisters a handler that enter let in.
func (f *inflight) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running--
	if f.closing && f.running == 0 {
		close(f.idle)
	}
}

// close lets no further handler in and waits until the running ones have
// left or timeout passes. It returns how many were still running.
func (f *inflight) close(timeout time.Duration) int {
	f.mu.Lock()
	if !f.closing {
		f.closing = true
		f.idle = make(chan struct{})
		if f.running == 0 {
			close(f.idle)
		}
	}
	idle := f.idle
	f.mu.Unlock()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-idle:
		return 0
	case <-timer.C:
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

// isClosing reports whether close has started.
func (f *inflight) isClosing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closing
}
