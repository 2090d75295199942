package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
)

// Timing of the event streams (Server-Sent Events, as the WHATWG HTML
// standard defines them).
const (
	// streamRetry is the reconnection delay sent to the browser.
	streamRetry = 2 * time.Second
	// streamMinGap is the shortest time between two snapshots of one
	// stream, so that a burst of events costs one snapshot.
	streamMinGap = 250 * time.Millisecond
	// streamRefresh is the time after which a stream sends a snapshot
	// without any event, so that waits and times in state stay current.
	streamRefresh = 5 * time.Second
	// streamHeartbeat is how often a stream sends a comment line, so that
	// proxies keep an idle connection open.
	streamHeartbeat = 15 * time.Second
	// streamWriteTimeout bounds one write to a client. A client that
	// reads slower loses its stream and reconnects.
	streamWriteTimeout = 10 * time.Second
	// streamEventBuffer is the bus buffer of one stream. The stream only
	// needs to know that something happened, so a full buffer loses
	// nothing that matters.
	streamEventBuffer = 16
	// streamShareAge is how old a shared board snapshot may be when a
	// stream connects or refreshes without an event.
	streamShareAge = time.Second
	// unavailableEvent is the event name of a snapshot that failed.
	unavailableEvent = "unavailable"
)

// EventSource subscribes to the server's events. *events.Bus implements
// it.
type EventSource interface {
	Subscribe(buffer int) *events.Subscription
}

// Streams ends the open event streams when the server stops. Register
// Close with http.Server.RegisterOnShutdown, because Shutdown waits for
// every handler, and a stream's handler runs until its client leaves. The
// zero value is not usable: create one with NewStreams. A nil *Streams
// never ends a stream.
type Streams struct {
	done chan struct{}
	once sync.Once
}

// NewStreams returns a Streams whose streams run until Close.
func NewStreams() *Streams {
	return &Streams{done: make(chan struct{})}
}

// Close ends every open stream, and makes new ones end at once. Closing
// twice is safe.
func (s *Streams) Close() {
	if s == nil {
		return
	}
	s.once.Do(func() { close(s.done) })
}

// stopped returns a channel closed by Close, or nil for a nil Streams.
func (s *Streams) stopped() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.done
}

// streamSpec describes one event stream.
type streamSpec struct {
	// event is the SSE event name of a snapshot.
	event string
	// snapshot builds the JSON value to send. notBefore is the earliest
	// time a shared snapshot may have been started at to be sent.
	snapshot func(ctx context.Context, notBefore time.Time) (any, error)
	// relevant reports whether an event may change the snapshot. Nil
	// takes every event.
	relevant func(events.Event) bool
	// fail responds to a request whose first snapshot failed. Nil
	// responds 503.
	fail func(w http.ResponseWriter, r *http.Request, err error)
	// refresh is the time after which the stream sends a snapshot without
	// any event. Zero means streamRefresh.
	refresh time.Duration
	source  EventSource
	streams *Streams
	log     zerolog.Logger
}

// sseWriter writes the SSE lines of one stream.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// write sends text and flushes it, within streamWriteTimeout.
func (s sseWriter) write(text string) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := fmt.Fprint(s.w, text); err != nil {
		return err
	}
	return s.rc.Flush()
}

// event sends one event whose data is v in JSON.
func (s sseWriter) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", name, err)
	}
	return s.write("event: " + name + "\ndata: " + string(data) + "\n\n")
}

// serveStream responds to a request with an event stream: a snapshot at once,
// another after relevant events (at most one per streamMinGap) and every
// streamRefresh. It returns when the client leaves, a write fails or the
// server stops. When the first snapshot fails, the request gets 503.
func serveStream(w http.ResponseWriter, r *http.Request, spec streamSpec) {
	ctx := r.Context()
	first, err := spec.snapshot(ctx, time.Now().Add(-streamShareAge))
	if err != nil {
		if spec.fail != nil {
			spec.fail(w, r, err)
			return
		}
		writeUnavailable(w, spec.log, r, err)
		return
	}

	var eventsC <-chan events.Event
	if spec.source != nil {
		sub := spec.source.Subscribe(streamEventBuffer)
		defer sub.Close()
		eventsC = sub.C()
	}

	out := sseWriter{w: w, rc: http.NewResponseController(w)}
	defer func() { _ = out.rc.SetWriteDeadline(time.Time{}) }()
	header := w.Header()
	header.Set("Content-Type", "text/event-stream; charset=utf-8")
	header.Set("Cache-Control", "no-cache")
	header.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := out.write(fmt.Sprintf("retry: %d\n\n", streamRetry.Milliseconds())); err != nil {
		return
	}
	if err := out.event(spec.event, first); err != nil {
		return
	}

	loop := streamLoop{spec: spec, out: out, lastSent: time.Now()}
	loop.run(ctx, eventsC)
}

// streamLoop is the state of one stream after its first snapshot.
type streamLoop struct {
	spec streamSpec
	out  sseWriter
	// lastSent is when the last snapshot was sent.
	lastSent time.Time
	// dirtySince is when the first event not yet in a snapshot arrived,
	// or zero when none waits.
	dirtySince time.Time
}

// run sends snapshots until ctx ends, the server stops or a write fails.
func (l *streamLoop) run(ctx context.Context, eventsC <-chan events.Event) {
	coalesce := time.NewTimer(streamMinGap)
	coalesce.Stop()
	defer coalesce.Stop()
	every := l.spec.refresh
	if every <= 0 {
		every = streamRefresh
	}
	refresh := time.NewTicker(every)
	defer refresh.Stop()
	heartbeat := time.NewTicker(streamHeartbeat)
	defer heartbeat.Stop()

	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-l.spec.streams.stopped():
			return
		case e, ok := <-eventsC:
			if !ok {
				eventsC = nil
				continue
			}
			l.noteEvent(e, coalesce)
		case <-coalesce.C:
			notBefore := l.dirtySince
			l.dirtySince = time.Time{}
			err = l.send(ctx, notBefore)
		case <-refresh.C:
			if l.dirtySince.IsZero() {
				err = l.send(ctx, time.Now().Add(-streamShareAge))
			}
		case <-heartbeat.C:
			err = l.out.write(": keep-alive\n\n")
		}
		if err != nil {
			return
		}
	}
}

// noteEvent arms the coalescing timer for a relevant event, unless a
// snapshot is already due.
func (l *streamLoop) noteEvent(e events.Event, coalesce *time.Timer) {
	if l.spec.relevant != nil && !l.spec.relevant(e) {
		return
	}
	if !l.dirtySince.IsZero() {
		return
	}
	now := time.Now()
	l.dirtySince = now
	coalesce.Reset(max(0, l.lastSent.Add(streamMinGap).Sub(now)))
}

// send builds and sends one snapshot. A snapshot that fails is sent as an
// unavailable event with the error message, and the stream goes on, so
// the page shows the failure instead of stale figures.
func (l *streamLoop) send(ctx context.Context, notBefore time.Time) error {
	l.lastSent = time.Now()
	snapshot, err := l.spec.snapshot(ctx, notBefore)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		l.spec.log.Warn().Err(err).Str("stream", l.spec.event).Msg("stream snapshot failed")
		return l.out.event(unavailableEvent, errorBody{Error: unavailableMessage})
	}
	return l.out.event(l.spec.event, snapshot)
}

// unavailableMessage is the error of a snapshot whose store failed.
const unavailableMessage = "the queue or records store did not answer: try again; the server log has the cause"

// writeUnavailable responds 503 to a snapshot that failed, and logs why.
func writeUnavailable(w http.ResponseWriter, log zerolog.Logger, r *http.Request, err error) {
	log.Warn().Err(err).Str("path", r.URL.Path).Msg("snapshot failed")
	WriteError(w, http.StatusServiceUnavailable, unavailableMessage)
}
