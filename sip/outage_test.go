package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/queue"
)

// expiringStore is a queue store whose Expired returns a fixed list once.
type expiringStore struct {
	queue.Store
	// mu guards expired.
	mu      sync.Mutex
	expired []queue.Caller
	// enqueueErr is returned by Enqueue.
	enqueueErr error
}

func (s *expiringStore) Expired(time.Time) []queue.Caller {
	s.mu.Lock()
	defer s.mu.Unlock()
	expired := s.expired
	s.expired = nil
	return expired
}

func (s *expiringStore) Enqueue(context.Context, queue.Caller) error { return s.enqueueErr }

func TestWatchBufferSignalsExpiredCall(t *testing.T) {
	store := &expiringStore{Store: queue.NewMemoryStore(), expired: []queue.Caller{
		{CallID: "gone", Queue: "general"},
		{CallID: "call-1", Queue: "general"},
	}}
	s := &Server{calls: newCallTable(), queue: store}
	c := &call{id: "call-1", bufferExpired: make(chan struct{}, 1)}
	s.calls.add(c)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		s.watchBuffer(ctx, store)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()

	select {
	case <-c.bufferExpired:
	case <-time.After(10 * time.Second):
		t.Fatal("the call was not told that its caller expired in the outage buffer")
	}
}

func TestRetryEnqueueOutcome(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantDone  bool
		wantEnded bool
	}{
		{name: "buffer still full", err: fmt.Errorf("enqueue: %w", queue.ErrBufferFull), wantDone: false, wantEnded: false},
		{name: "store failed", err: errors.New("invalid caller data"), wantDone: true, wantEnded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, end := context.WithCancelCause(t.Context())
			defer end(nil)
			s := &Server{queue: &expiringStore{enqueueErr: tt.err}}
			c := &call{id: "call-1", srv: s, ctx: ctx, end: end, log: zerolog.Nop()}

			done := c.retryEnqueue(ctx, queue.Caller{CallID: "call-1", Queue: "general", EnqueuedAt: time.Now()})

			if done != tt.wantDone {
				t.Errorf("retryEnqueue = %v, want %v", done, tt.wantDone)
			}
			if ended := ctx.Err() != nil; ended != tt.wantEnded {
				t.Errorf("call ended = %v, want %v", ended, tt.wantEnded)
			}
		})
	}
}
