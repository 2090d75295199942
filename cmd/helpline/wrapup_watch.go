package main

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/web"
)

// wrapUpWatchBuffer is the number of events the watcher may fall behind
// before the bus drops some for it. A dropped event only means a wrap-up
// time that runs to its end.
const wrapUpWatchBuffer = 64

// savedWrapUps ends the wrap-up time of a counselor whose wrap-up was
// already saved during the call, so that the next caller comes at once
// instead of after the whole wrap-up time.
type savedWrapUps struct {
	sub     *events.Subscription
	states  web.CounselorService
	store   *records.Store
	endWrap func(ctx context.Context, counselorID, callID string) error
	log     zerolog.Logger
}

// newSavedWrapUps subscribes to the bus. Its run method serves the
// subscription.
func newSavedWrapUps(bus *events.Bus, states web.CounselorService, store *records.Store, log zerolog.Logger) *savedWrapUps {
	return &savedWrapUps{
		sub:     bus.Subscribe(wrapUpWatchBuffer),
		states:  states,
		store:   store,
		endWrap: endWrapUpAfter(states, store),
		log:     log,
	}
}

// run handles the events until ctx ends, then closes the subscription.
func (w *savedWrapUps) run(ctx context.Context) {
	defer w.sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-w.sub.C():
			if enteredWrapUp(e) {
				w.check(ctx, e.CounselorID)
			}
		}
	}
}

// enteredWrapUp reports whether e is a counselor entering wrap-up at the
// end of a call.
func enteredWrapUp(e events.Event) bool {
	return e.Type == events.CounselorState && e.Data["to"] == string(queue.StateWrapUp)
}

// check ends the counselor's wrap-up when the wrap-up of the call they
// answered last is saved.
func (w *savedWrapUps) check(ctx context.Context, counselorID string) {
	latest, err := w.store.LatestCallOf(ctx, counselorID)
	if errors.Is(err, records.ErrNotFound) {
		return
	}
	if err != nil {
		w.log.Warn().Err(err).Str("counselor", counselorID).Msg("reading the counselor's last call failed, wrap-up time runs on")
		return
	}
	if _, err := w.store.GetWrapUp(ctx, latest.CallID); err != nil {
		if !errors.Is(err, records.ErrWrapUpNotFound) {
			w.log.Warn().Err(err).Str("call_id", latest.CallID).Msg("reading the saved wrap-up failed, wrap-up time runs on")
		}
		return
	}
	if err := w.endWrap(ctx, counselorID, latest.CallID); err != nil {
		w.log.Warn().Err(err).Str("counselor", counselorID).Str("call_id", latest.CallID).
			Msg("ending the wrap-up time after a wrap-up saved during the call failed")
	}
}
