package counselor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
)

// Sources of a state change, sent as Data["source"] of the event.
const (
	// SourcePhone is a feature code dialled on the counselor's softphone.
	SourcePhone = "phone"
	// SourceAPI is a request to the HTTP API.
	SourceAPI = "api"
	// SourceRegistration is the end of the phone's last registration.
	SourceRegistration = "registration"
)

// DefaultBreakReason is the reason of a break requested without one.
const DefaultBreakReason = "break"

var (
	// ErrNotRegistered is returned for a login of a counselor whose phone
	// is not registered: the counselor could not be rung.
	ErrNotRegistered = errors.New("counselor's phone is not registered")
	// ErrInvalidState is returned for a requested state that a manual
	// change cannot set. Only available, break and logged_out can be set.
	ErrInvalidState = errors.New("state cannot be set by request")
)

// Status is one counselor as the API shows it.
type Status struct {
	// ID is the counselor's ID, the SIP user name of the softphone.
	ID string `json:"id"`
	// Name is the counselor's name from the configuration.
	Name string `json:"name"`
	// State is the counselor's state. A wrap-up whose time has passed
	// shows as available.
	State queue.CounselorState `json:"state"`
	// Reason is the reason of a break, else empty.
	Reason string `json:"reason,omitempty"`
	// Since is when the counselor entered State.
	Since time.Time `json:"since"`
	// WrapUpUntil is when a wrap-up ends, only in state wrap_up.
	WrapUpUntil *time.Time `json:"wrap_up_until,omitempty"`
	// Registered reports whether the counselor's softphone is registered.
	Registered bool `json:"registered"`
	// CallID is the call the counselor is offered or talks on, the id
	// that the call routes of the API take, else empty.
	CallID string `json:"call_id,omitempty"`
}

// Config are the parts a Service works with.
type Config struct {
	// Store holds the counselor states. Required.
	Store queue.Store
	// Events receives a CounselorState event for every change. Nil drops
	// them.
	Events events.Publisher
	// Notify wakes the distributors after a change. Nil does nothing.
	Notify func()
	// Registered reports whether a counselor's phone is registered. Nil
	// counts every phone as registered.
	Registered func(id string) bool
	// Names gives the name shown for each counselor ID.
	Names []Named
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives one line per change. The zero value discards them.
	Logger zerolog.Logger
}

// Named is a counselor ID with the name shown for it.
type Named struct {
	ID   string
	Name string
}

// Service applies requested counselor state changes. It is safe for
// concurrent use.
type Service struct {
	store      queue.Store
	events     events.Publisher
	notify     func()
	registered func(id string) bool
	names      map[string]string
	now        func() time.Time
	log        zerolog.Logger
}

// New returns a Service for cfg.
func New(cfg Config) *Service {
	s := &Service{
		store:      cfg.Store,
		events:     cfg.Events,
		notify:     cfg.Notify,
		registered: cfg.Registered,
		names:      make(map[string]string, len(cfg.Names)),
		now:        cfg.Now,
		log:        cfg.Logger,
	}
	if s.events == nil {
		s.events = events.Nop{}
	}
	if s.notify == nil {
		s.notify = func() {}
	}
	if s.registered == nil {
		s.registered = func(string) bool { return true }
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, n := range cfg.Names {
		s.names[n.ID] = n.Name
	}
	return s
}

// List returns every counselor in the store, sorted by ID.
func (s *Service) List(ctx context.Context) ([]Status, error) {
	counselors, err := s.store.Counselors(ctx)
	if err != nil {
		return nil, fmt.Errorf("list counselors: %w", err)
	}
	now := s.now()
	list := make([]Status, 0, len(counselors))
	for _, c := range counselors {
		list = append(list, s.status(c, now))
	}
	return list, nil
}

// Get returns one counselor, or an error wrapping queue.ErrUnknownCounselor.
func (s *Service) Get(ctx context.Context, id string) (Status, error) {
	c, err := s.store.Counselor(ctx, id)
	if err != nil {
		return Status{}, err
	}
	return s.status(c, s.now()), nil
}

// status builds the Status of c at now.
func (s *Service) status(c queue.Counselor, now time.Time) Status {
	st := Status{
		ID:         c.ID,
		Name:       s.names[c.ID],
		State:      c.State,
		Reason:     c.Reason,
		Since:      c.Since,
		Registered: s.registered(c.ID),
		CallID:     c.CallID,
	}
	if c.State == queue.StateOffered {
		st.CallID = c.OfferCallID
	}
	if c.State == queue.StateWrapUp {
		if c.WrapUpUntil.After(now) {
			until := c.WrapUpUntil
			st.WrapUpUntil = &until
		} else {
			st.State = queue.StateAvailable
			st.Since = c.WrapUpUntil
		}
	}
	return st
}

// Login makes a logged-out, on-break or wrapping-up counselor available.
// It returns ErrNotRegistered when the counselor's phone is not registered.
func (s *Service) Login(ctx context.Context, id, source string) error {
	return s.SetState(ctx, id, queue.StateAvailable, "", source)
}

// Logout logs a counselor out, after the offer or call in progress.
func (s *Service) Logout(ctx context.Context, id, source string) error {
	return s.SetState(ctx, id, queue.StateLoggedOut, "", source)
}

// Break pauses an available or wrapping-up counselor with reason, or with
// DefaultBreakReason when reason is empty.
func (s *Service) Break(ctx context.Context, id, reason, source string) error {
	return s.SetState(ctx, id, queue.StateBreak, reason, source)
}

// Resume makes a counselor on break available. A counselor in any other
// state gets a queue.TransitionError, so that the back-from-break code
// cannot log in a counselor who logged out.
func (s *Service) Resume(ctx context.Context, id, source string) error {
	before, err := s.store.Counselor(ctx, id)
	if err != nil {
		return fmt.Errorf("resume counselor %s: %w", id, err)
	}
	if before.State != queue.StateBreak {
		return fmt.Errorf("resume counselor: %w",
			&queue.TransitionError{CounselorID: id, From: before.State, To: queue.StateAvailable})
	}
	return s.SetState(ctx, id, queue.StateAvailable, "", source)
}

// SetState applies a manual change to available, break or logged_out, as
// queue.Store.SetState allows it. A change to available from logged_out
// needs a registered phone.
func (s *Service) SetState(ctx context.Context, id string, state queue.CounselorState, reason, source string) error {
	switch state {
	case queue.StateAvailable, queue.StateLoggedOut:
		reason = ""
	case queue.StateBreak:
		if reason == "" {
			reason = DefaultBreakReason
		}
	default:
		return fmt.Errorf("set counselor %s to %q: %w: use available, break or logged_out", id, state, ErrInvalidState)
	}

	before, err := s.store.Counselor(ctx, id)
	if err != nil {
		// A login needs the state read first, unless the phone is
		// registered, in which case the check below passes anyway.
		if !s.storeUnreadable(ctx, err) || (state == queue.StateAvailable && !s.registered(id)) {
			return fmt.Errorf("set counselor %s to %s: %w", id, state, err)
		}
		return s.changeUnread(id, err, func() error { return s.store.SetState(ctx, id, state, reason, s.now()) })
	}
	if state == queue.StateAvailable && before.State == queue.StateLoggedOut && !s.registered(id) {
		return fmt.Errorf("log in counselor %s: %w: register the softphone first", id, ErrNotRegistered)
	}
	if err := s.store.SetState(ctx, id, state, reason, s.now()); err != nil {
		return err
	}
	s.changed(ctx, before, source)
	return nil
}

// EndWrapUp ends a counselor's wrap-up now, so that the next caller can be
// offered at once. A counselor not in wrap_up gets a queue.TransitionError.
func (s *Service) EndWrapUp(ctx context.Context, id, source string) error {
	before, err := s.store.Counselor(ctx, id)
	if err != nil {
		if !s.storeUnreadable(ctx, err) {
			return fmt.Errorf("end wrap-up of counselor %s: %w", id, err)
		}
		return s.changeUnread(id, err, func() error { return s.store.EndWrapUp(ctx, id, s.now()) })
	}
	if err := s.store.EndWrapUp(ctx, id, s.now()); err != nil {
		return err
	}
	s.changed(ctx, before, source)
	return nil
}

// storeUnreadable reports whether err, from reading a counselor, means the
// store could not be read, rather than an unknown counselor or the end of
// ctx.
func (s *Service) storeUnreadable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, queue.ErrUnknownCounselor)
}

// changeUnread applies a change whose previous state could not be read, as
// while a shared queue store is unreachable: a store such as queue.Buffered
// then journals the change. No event is published, because the state it
// changed from is unknown.
func (s *Service) changeUnread(id string, readErr error, change func() error) error {
	if err := change(); err != nil {
		return err
	}
	s.log.Warn().Err(readErr).Str("counselor", id).
		Msg("counselor state unknown, change applied without a state change event")
	s.notify()
	return nil
}

// PhoneRegistered takes a registrar change. The end of a phone's last
// registration logs the counselor out, after the call in progress. A new
// registration changes no state: the counselor logs in separately.
func (s *Service) PhoneRegistered(ctx context.Context, id string, registered bool) {
	log := s.log.With().Str("counselor", id).Logger()
	if registered {
		c, err := s.store.Counselor(ctx, id)
		if err == nil && c.State != queue.StateLoggedOut {
			log.Info().Str("state", string(c.State)).Msg("counselor phone registered")
			return
		}
		log.Info().Msg("counselor phone registered, log in to take calls")
		return
	}
	if err := s.Logout(ctx, id, SourceRegistration); err != nil {
		log.Warn().Err(err).Msg("logging out the counselor whose phone unregistered failed")
	}
}

// changed publishes the change from before to the counselor's current
// state, logs it and wakes the distributors.
func (s *Service) changed(ctx context.Context, before queue.Counselor, source string) {
	after, err := s.store.Counselor(ctx, before.ID)
	if err != nil {
		s.log.Warn().Err(err).Str("counselor", before.ID).Msg("reading the counselor after a state change failed")
		s.notify()
		return
	}

	log := s.log.With().Str("counselor", after.ID).Str("source", source).Logger()
	switch {
	case after.State != before.State || after.Reason != before.Reason:
		Publish(s.events, after.ID, before.State, after.State, after.Reason, source)
		log.Info().Str("from", string(before.State)).Str("to", string(after.State)).Str("reason", after.Reason).
			Msg("counselor state changed")
	case after.LogoutAfterCall && !before.LogoutAfterCall:
		log.Info().Str("state", string(after.State)).Msg("counselor logs out when the call ends")
	}
	s.notify()
}

// Publish sends one CounselorState event. Other packages that change a
// counselor's state, such as the distributor pausing a counselor after
// missed calls, use it so that every such event has the same fields.
func Publish(p events.Publisher, id string, from, to queue.CounselorState, reason, source string) {
	data := map[string]string{"from": string(from), "to": string(to), "source": source}
	if reason != "" {
		data["reason"] = reason
	}
	p.Publish(events.Event{Type: events.CounselorState, CounselorID: id, Data: data})
}
