package sip

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

// Binding maps a counselor's address-of-record to one contact of a softphone.
type Binding struct {
	// User is the counselor id, the user part of the address-of-record.
	User string
	// Contact is the Contact URI as registered. Behind NAT it may contain a
	// private address that is unreachable from here.
	Contact sipmsg.Uri
	// Source is the address the REGISTER came from.
	Source netip.AddrPort
	// Transport is the lowercase transport the REGISTER arrived on: "udp", "tcp" or "tls".
	Transport string
	// Expires is when the binding lapses unless refreshed.
	Expires time.Time
	// CallID and CSeq identify the REGISTER that last set the binding.
	CallID string
	CSeq   uint32
	// UpdatedAt is when the binding was created or last refreshed.
	UpdatedAt time.Time
	// Path lists the URIs of the REGISTER's Path headers (RFC 3327), top
	// first: the proxies that requests to the phone must pass. In shared
	// mode a REGISTER without Path gets this node's own URI instead (see
	// RegistrarConfig.NodeAddresses). Empty when the phone is reached at
	// Source.
	Path []string
	// Node is the ID of the node whose registrar holds the binding, empty
	// in embedded mode.
	Node string

	// direct is true when this registrar added Path itself and holds the
	// phone's flow, so that it sends to Source and not through Path.
	direct bool
}

// Destination returns the host:port to send requests for this binding to
// (see NextHop). Without Path it is the source of the REGISTER, never the
// Contact address. This follows the received/rport rules of RFC 3581 so
// that requests reach a phone behind NAT through the mapping its REGISTER
// opened. With Path it is the first Path URI. An invalid Path gives Source.
func (b Binding) Destination() string {
	hop, err := b.NextHop()
	if err != nil {
		return b.Source.String()
	}
	return hop.Destination
}

// Target returns what a request to this binding needs: the Contact URI as
// Request-URI, the destination host:port and the transport (see NextHop,
// which also gives the Route headers).
func (b Binding) Target() (requestURI sipmsg.Uri, destination string, transport string) {
	hop, err := b.NextHop()
	if err != nil {
		return *b.Contact.Clone(), b.Source.String(), b.Transport
	}
	return *b.Contact.Clone(), hop.Destination, hop.Transport
}

func (b Binding) clone() Binding {
	b.Contact = *b.Contact.Clone()
	b.Path = slices.Clone(b.Path)
	return b
}

// updateResult lists what one REGISTER changed, for logging and the response.
type updateResult struct {
	added, refreshed, removed, expired []Binding
	// current holds the user's bindings after the update.
	current []Binding
}

// applyUpdate applies update to the bindings of user atomically. When any
// contact fails the Call-ID and CSeq ordering check, nothing changes.
func (r *Registrar) applyUpdate(user string, update registerUpdate, origin registerOrigin, now time.Time) (updateResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	if err := checkRegisterOrder(r.bindings[user], update, origin, now); err != nil {
		return updateResult{}, err
	}

	result := updateResult{expired: r.removeExpiredLocked(user, now)}
	if update.removeAll {
		result.removed = r.removeAllLocked(user)
	}
	for _, contact := range update.contacts {
		r.applyContactLocked(user, contact, origin, now, &result)
	}

	result.current = r.userBindingsLocked(user, now)
	r.announceLocked(user)
	r.wakeSweeper()
	return result, nil
}

// checkRegisterOrder implements RFC 3261 section 10.3, step 7: a REGISTER
// with the Call-ID of a stored binding must carry a higher CSeq, otherwise
// it arrived out of order and is rejected. Expired bindings do not count.
func checkRegisterOrder(bindings map[string]Binding, update registerUpdate, origin registerOrigin, now time.Time) error {
	outOfOrder := func(binding Binding) bool {
		return binding.Expires.After(now) && binding.CallID == origin.callID && origin.cseq <= binding.CSeq
	}

	if update.removeAll {
		for _, binding := range bindings {
			if outOfOrder(binding) {
				return fmt.Errorf("CSeq %d not above stored %d for Call-ID %q: %w", origin.cseq, binding.CSeq, origin.callID, ErrRegisterOutOfOrder)
			}
		}
		return nil
	}

	for _, contact := range update.contacts {
		binding, ok := bindings[contact.key]
		if ok && outOfOrder(binding) {
			return fmt.Errorf("CSeq %d not above stored %d for Call-ID %q: %w", origin.cseq, binding.CSeq, origin.callID, ErrRegisterOutOfOrder)
		}
	}
	return nil
}

// applyContactLocked adds, refreshes or removes the binding of one contact.
// A refresh rewrites the lifetime, origin and request identifiers of the
// binding in place and leaves the user's other bindings alone.
func (r *Registrar) applyContactLocked(user string, contact contactUpdate, origin registerOrigin, now time.Time, result *updateResult) {
	bindings := r.bindings[user]
	existing, exists := bindings[contact.key]

	if contact.expires == 0 {
		if exists {
			delete(bindings, contact.key)
			result.removed = append(result.removed, existing)
		}
		if len(bindings) == 0 {
			delete(r.bindings, user)
		}
		return
	}

	if bindings == nil {
		bindings = make(map[string]Binding)
		r.bindings[user] = bindings
	}
	binding := Binding{
		User:      user,
		Contact:   *contact.uri.Clone(),
		Source:    origin.source,
		Transport: origin.transport,
		Expires:   now.Add(contact.expires),
		CallID:    origin.callID,
		CSeq:      origin.cseq,
		UpdatedAt: now,
		Path:      slices.Clone(origin.path),
		Node:      r.node,
		direct:    origin.direct,
	}
	bindings[contact.key] = binding

	if exists {
		result.refreshed = append(result.refreshed, binding.clone())
	} else {
		result.added = append(result.added, binding.clone())
	}
}

func (r *Registrar) removeAllLocked(user string) []Binding {
	removed := make([]Binding, 0, len(r.bindings[user]))
	for _, binding := range r.bindings[user] {
		removed = append(removed, binding)
	}
	delete(r.bindings, user)
	return removed
}

// removeExpiredLocked deletes the bindings of user whose lifetime ended at
// or before now and returns them.
func (r *Registrar) removeExpiredLocked(user string, now time.Time) []Binding {
	bindings := r.bindings[user]
	var expired []Binding
	for key, binding := range bindings {
		if !binding.Expires.After(now) {
			expired = append(expired, binding)
			delete(bindings, key)
		}
	}
	if len(bindings) == 0 {
		delete(r.bindings, user)
	}
	return expired
}

// userBindingsLocked returns copies of the live bindings of user, sorted.
func (r *Registrar) userBindingsLocked(user string, now time.Time) []Binding {
	current := make([]Binding, 0, len(r.bindings[user]))
	for _, binding := range r.bindings[user] {
		if binding.Expires.After(now) {
			current = append(current, binding.clone())
		}
	}
	slices.SortFunc(current, compareBindings)
	return current
}

// Lookup returns the most recently refreshed unexpired binding of user.
// In shared mode, when this node holds none, it returns the most recently
// refreshed binding that another node wrote to the shared store.
func (r *Registrar) Lookup(user string) (Binding, bool) {
	now := r.now()

	if binding, ok := r.lookupLocal(user, now); ok {
		return binding, true
	}
	if r.shared == nil {
		return Binding{}, false
	}
	return r.lookupShared(user, now)
}

// lookupLocal returns the most recently refreshed unexpired binding of
// user that this registrar holds.
func (r *Registrar) lookupLocal(user string, now time.Time) (Binding, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()

	bindings := make([]Binding, 0, len(r.bindings[user]))
	for _, binding := range r.bindings[user] {
		bindings = append(bindings, binding)
	}
	latest, ok := latestBinding(bindings, now)
	if !ok {
		return Binding{}, false
	}
	return latest.clone(), true
}

// latestBinding returns the most recently refreshed binding of bindings
// that is unexpired at now.
func latestBinding(bindings []Binding, now time.Time) (Binding, bool) {
	var latest Binding
	found := false
	for _, binding := range bindings {
		if !binding.Expires.After(now) {
			continue
		}
		if !found || binding.UpdatedAt.After(latest.UpdatedAt) {
			latest = binding
			found = true
		}
	}
	return latest, found
}

// Bindings returns copies of all unexpired bindings this node holds (in
// shared mode, not those of other nodes), sorted by user, then contact,
// then source.
func (r *Registrar) Bindings() []Binding {
	now := r.now()

	r.mu.Lock()
	var all []Binding
	for user := range r.bindings {
		all = append(all, r.userBindingsLocked(user, now)...)
	}
	r.mu.Unlock()

	slices.SortFunc(all, compareBindings)
	return all
}

func compareBindings(a, b Binding) int {
	return cmp.Or(
		cmp.Compare(a.User, b.User),
		cmp.Compare(a.Contact.String(), b.Contact.String()),
		a.Source.Compare(b.Source),
	)
}

// Run removes bindings when they expire until ctx ends. It sleeps on a timer
// set to the next expiry and wakes early when bindings change. Call it once.
func (r *Registrar) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	for {
		var fired <-chan time.Time
		if next, ok := r.nextExpiry(); ok {
			timer.Reset(next.Sub(r.now()))
			fired = timer.C
		}

		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-fired:
			r.sweep(r.now())
		}
		// Since Go 1.23 Stop also discards a value the timer already sent.
		timer.Stop()
	}
}

// wakeSweeper makes Run recompute its timer. The send never blocks, because
// one pending signal is enough and further ones are dropped.
func (r *Registrar) wakeSweeper() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Registrar) nextExpiry() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()

	var next time.Time
	found := false
	for _, bindings := range r.bindings {
		for _, binding := range bindings {
			if !found || binding.Expires.Before(next) {
				next = binding.Expires
				found = true
			}
		}
	}
	return next, found
}

// sweep removes every binding expired at now, logs each and reports users
// left without bindings to OnChange.
func (r *Registrar) sweep(now time.Time) {
	r.mu.Lock()
	var expired []Binding
	for user := range r.bindings {
		expired = append(expired, r.removeExpiredLocked(user, now)...)
		r.announceLocked(user)
	}
	r.mu.Unlock()

	users := make(map[string]bool)
	for _, binding := range expired {
		logBinding(r.log.Info(), binding, now).Msg("binding expired")
		users[binding.User] = true
	}
	for user := range users {
		r.publish(user)
	}
	r.deliverChanges()
}

// announceLocked queues an OnChange call when whether user has bindings
// differs from what OnChange last reported.
func (r *Registrar) announceLocked(user string) {
	registered := len(r.bindings[user]) > 0
	if registered == r.announced[user] {
		return
	}

	if registered {
		r.announced[user] = true
	} else {
		delete(r.announced, user)
	}
	if r.onChange != nil {
		r.pending = append(r.pending, registrationChange{user: user, registered: registered})
	}
}

// deliverChanges makes the queued OnChange calls without holding mu. Only one
// goroutine delivers at a time, so calls keep the order of the changes. A
// goroutine that finds another one delivering leaves its changes to it.
func (r *Registrar) deliverChanges() {
	r.mu.Lock()
	if r.delivering {
		r.mu.Unlock()
		return
	}
	r.delivering = true

	for len(r.pending) > 0 {
		batch := r.pending
		r.pending = nil
		r.mu.Unlock()

		for _, change := range batch {
			if !change.registered && r.registeredElsewhere(change.user) {
				continue
			}
			r.onChange(change.user, change.registered)
		}

		r.mu.Lock()
	}

	r.delivering = false
	r.mu.Unlock()
}

// logUpdateResult logs additions, removals and expiries at info level and
// refreshes at debug level.
func logUpdateResult(log zerolog.Logger, result updateResult, now time.Time) {
	for _, binding := range result.added {
		logBinding(log.Info(), binding, now).Msg("binding added")
	}
	for _, binding := range result.refreshed {
		logBinding(log.Debug(), binding, now).Msg("binding refreshed")
	}
	for _, binding := range result.removed {
		logBinding(log.Info(), binding, now).Msg("binding removed")
	}
	for _, binding := range result.expired {
		logBinding(log.Info(), binding, now).Msg("binding expired")
	}
}

func logBinding(event *zerolog.Event, binding Binding, now time.Time) *zerolog.Event {
	return event.
		Str("user", binding.User).
		Str("contact", binding.Contact.String()).
		Str("source", binding.Source.String()).
		Str("transport", binding.Transport).
		Strs("path", binding.Path).
		Int64("expires", max(ceilSeconds(binding.Expires.Sub(now)), 0))
}
