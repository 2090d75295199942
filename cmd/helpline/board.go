package main

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/config"
	"helpline/counselor"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/web"
)

// registerBoard adds the supervisor board and counselor console routes to
// api, with their event streams, which streams ends at shutdown.
// emergencies gives the emergency calls of the calls in progress.
func registerBoard(cfg *config.Config, api *web.API, streams *web.Streams, q queue.Store, states *counselor.Service,
	store *records.Store, callbacks *callback.Manager, bus *events.Bus, emergencies web.EmergencyStates, log zerolog.Logger) {
	names := make([]string, 0, len(cfg.Queues))
	labels := make(map[string]web.QueueLabel, len(cfg.Queues))
	for _, def := range cfg.Queues {
		names = append(names, def.Name)
		labels[def.Name] = web.QueueLabel{Ko: def.LabelKo, En: def.LabelEn}
	}
	apiLog := log.With().Str("component", "api").Logger()

	web.RegisterBoard(api, web.BoardDeps{
		ServiceLevel:    cfg.Web.ServiceLevel,
		WaitAlert:       cfg.Web.WaitAlert,
		Queue:           q,
		Queues:          names,
		Labels:          labels,
		Counselors:      states,
		Records:         store,
		Callbacks:       callbacks,
		EmergencyStates: emergencies,
		Events:          bus,
		Streams:         streams,
		Log:             apiLog,
	})
	web.RegisterConsole(api, web.ConsoleDeps{
		Labels:          labels,
		Emergency:       emergencyOptions(cfg.Trunk),
		EmergencyStates: emergencies,
		WrapUpSaved:     wrapUpSaved(store),
		Counselors:      states,
		Records:         store,
		Callbacks:       callbacks,
		Events:          bus,
		Streams:         streams,
		Log:             apiLog,
	})
}

// wrapUpSaved returns the function that tells the console whether a call's
// wrap-up is saved.
func wrapUpSaved(store *records.Store) func(ctx context.Context, callID string) (bool, error) {
	return func(ctx context.Context, callID string) (bool, error) {
		_, err := store.GetWrapUp(ctx, callID)
		if errors.Is(err, records.ErrWrapUpNotFound) {
			return false, nil
		}
		return err == nil, err
	}
}
