package main

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"helpline/counselor"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/web"
)

// latestCalls finds the call a counselor answered last. *records.Store
// implements it.
type latestCalls interface {
	LatestCallOf(ctx context.Context, counselor string) (records.Record, error)
}

// registerFollowUpRoutes adds the wrap-up, history and follow-up routes.
// The follow-up stream wakes on bus, and streams ends it at shutdown.
func registerFollowUpRoutes(api *web.API, store *records.Store, states web.CounselorService, bus *events.Bus,
	streams *web.Streams, log zerolog.Logger) {
	web.RegisterFollowUps(api, web.FollowUpDeps{
		Store:       store,
		Events:      bus,
		Streams:     streams,
		EndWrapUp:   endWrapUpAfter(states, store),
		CurrentCall: currentCall(states),
		Audit:       api.Audit,
		Log:         log.With().Str("component", "followups").Logger(),
	})
}

// endWrapUpAfter returns the function that ends a counselor's wrap-up
// once the wrap-up of callID is saved, when the counselor is in wrap_up
// and callID is the call they answered last. A wrap-up saved later for an
// older call leaves the current wrap-up running.
func endWrapUpAfter(states web.CounselorService, calls latestCalls) func(ctx context.Context, counselorID, callID string) error {
	return func(ctx context.Context, counselorID, callID string) error {
		status, err := states.Get(ctx, counselorID)
		if errors.Is(err, queue.ErrUnknownCounselor) {
			return nil
		}
		if err != nil {
			return err
		}
		if status.State != queue.StateWrapUp {
			return nil
		}
		latest, err := calls.LatestCallOf(ctx, counselorID)
		if errors.Is(err, records.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if latest.CallID != callID {
			return nil
		}
		return states.EndWrapUp(ctx, counselorID, counselor.SourceAPI)
	}
}

// currentCall returns the function that names the call a counselor is
// offered or talks on.
func currentCall(states web.CounselorService) func(ctx context.Context, counselorID string) (string, error) {
	return func(ctx context.Context, counselorID string) (string, error) {
		status, err := states.Get(ctx, counselorID)
		if err != nil {
			return "", err
		}
		return status.CallID, nil
	}
}
