package sip

import (
	"context"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/records"
)

// blockingRecords is a records store whose Start waits until release is
// closed, and reports each call on started.
type blockingRecords struct {
	patchRecorder
	started chan struct{}
	release chan struct{}
}

func (b *blockingRecords) Start(context.Context, records.StartInfo) error {
	b.started <- struct{}{}
	<-b.release
	return nil
}

// Close waits for a handler that is still writing its call record, and a
// request that arrives once Close has started reaches no handler.
func TestCloseWaitsForRunningHandlers(t *testing.T) {
	store := &blockingRecords{started: make(chan struct{}, 1), release: make(chan struct{})}
	srv := newFuzzServerWithRecords(t, &errorLog{}, store)

	invite := parseSeed(t, "invite_unknown_number", fuzzTrunkSource)
	handled := make(chan struct{})
	go func() {
		serveRequest(srv, invite, newRecordingTx())
		close(handled)
	}()
	receive(t, store.started, "the rejected call's record write")

	closed := make(chan struct{})
	go func() {
		_ = srv.Close()
		close(closed)
	}()
	waitFor(t, srv.handlers.isClosing, "Close to start")
	select {
	case <-closed:
		t.Fatal("Close returned while a handler was still writing its record")
	default:
	}

	late := newRecordingTx()
	serveRequest(srv, parseSeed(t, "options", fuzzUnknownSource), late)
	if len(late.responses) != 0 {
		t.Errorf("a request after Close started got %d responses, want none", len(late.responses))
	}

	close(store.release)
	receive(t, handled, "the INVITE handler to return")
	receive(t, closed, "Close to return")
}

// parseSeed parses a request seed as arriving over UDP from source.
func parseSeed(t *testing.T, name, source string) *sipmsg.Request {
	t.Helper()
	msg, err := sipmsg.ParseMessage(loadRequestSeed(t, name))
	if err != nil {
		t.Fatalf("parse seed %s: %v", name, err)
	}
	req := msg.(*sipmsg.Request)
	req.SetSource(source)
	req.SetTransport("UDP")
	return req
}

// waitFor polls cond every millisecond and fails the test after 5 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
