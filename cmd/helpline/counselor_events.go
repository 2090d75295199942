package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
)

// eventDrainTimeout bounds the wait at shutdown for buffered events to
// reach the records store.
const eventDrainTimeout = 30 * time.Second

// dataSource is the Data key of a counselor_state event that names what
// changed the state.
const dataSource = "source"

// setStateFromRegistration applies the state a registration change implies
// and publishes a counselor_state event when the state really changed. A
// counselor on a call who unregisters keeps the call (and is logged out
// after it), so no event is published then.
func setStateFromRegistration(q queue.Store, pub events.Publisher, user string, state queue.CounselorState, log zerolog.Logger) {
	ctx := context.Background()
	before, err := q.Counselor(ctx, user)
	if err != nil {
		log.Debug().Err(err).Str("counselor", user).Msg("counselor state unchanged by registration")
		return
	}
	if err := q.SetState(ctx, user, state, "", time.Now()); err != nil {
		log.Debug().Err(err).Str("counselor", user).Msg("counselor state unchanged by registration")
		return
	}
	after, err := q.Counselor(ctx, user)
	if err != nil || after.State == before.State {
		return
	}
	pub.Publish(events.Event{
		Type:        events.CounselorState,
		CounselorID: user,
		Data: map[string]string{
			"from":     string(before.State),
			"to":       string(after.State),
			dataSource: "registration",
		},
	})
}
