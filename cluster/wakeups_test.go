package cluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// scriptedWatcher delivers wake-ups: the first Watch delivers "first" and
// fails, and the second delivers "second" and waits for its context.
type scriptedWatcher struct {
	// mu guards calls.
	mu    sync.Mutex
	calls int
}

func (w *scriptedWatcher) Watch(ctx context.Context, fn func(string)) error {
	w.mu.Lock()
	w.calls++
	n := w.calls
	w.mu.Unlock()
	if n == 1 {
		fn("first")
		return errors.New("connection reset")
	}
	fn("second")
	<-ctx.Done()
	return ctx.Err()
}

func TestRunWakeupsWatchesAgain(t *testing.T) {
	var mu sync.Mutex
	var got []string
	notify := func(queue string) {
		mu.Lock()
		got = append(got, queue)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		RunWakeups(ctx, &scriptedWatcher{}, notify, zerolog.New(zerolog.NewTestWriter(t)))
		close(done)
	}()

	waitFor(t, "the second watch", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(got, "second")
	})
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	if want := []string{"first", "", "second"}; !slices.Equal(got, want) {
		t.Errorf("wake-ups = %q, want %q", got, want)
	}
}
