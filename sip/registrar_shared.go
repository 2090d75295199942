package sip

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"
)

// defaultSharedTimeout bounds each call to the shared binding store when
// RegistrarConfig.SharedTimeout is zero.
const defaultSharedTimeout = 2 * time.Second

// BindingStore keeps the bindings of every node in shared mode, so that a
// node can ring a counselor whose phone registered on another node.
// Implementations must be safe for concurrent use. Package
// sip/redisbindings implements it on Redis.
type BindingStore interface {
	// SaveBindings replaces the bindings that node holds for user with
	// bindings, which all belong to user and node. An empty list removes
	// them. The store drops each binding once its Expires has passed,
	// counted from now.
	SaveBindings(ctx context.Context, node, user string, bindings []Binding, now time.Time) error
	// LoadBindings returns the bindings of user on every node that have
	// not expired at now.
	LoadBindings(ctx context.Context, user string, now time.Time) ([]Binding, error)
}

// validateShared checks the shared mode fields of the config.
func (cfg RegistrarConfig) validateShared() error {
	if cfg.Shared == nil {
		return nil
	}
	if cfg.Node == "" {
		return fmt.Errorf("%w: Node is empty, but shared mode stores bindings under this node's ID", ErrInvalidRegistrarConfig)
	}
	if len(cfg.NodeAddresses) == 0 {
		return fmt.Errorf("%w: NodeAddresses is empty, but shared mode needs this node's address for the other nodes", ErrInvalidRegistrarConfig)
	}
	for transport, address := range cfg.NodeAddresses {
		if transport != "udp" && transport != "tcp" {
			return fmt.Errorf("%w: NodeAddresses has transport %q: use udp or tcp", ErrInvalidRegistrarConfig, transport)
		}
		host, port, err := net.SplitHostPort(address)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("%w: NodeAddresses[%s] = %q is not host:port", ErrInvalidRegistrarConfig, transport, address)
		}
	}
	return nil
}

// normalizeNodeAddresses copies addresses with lowercase transports and
// each address rebuilt by net.JoinHostPort, which brackets IPv6 hosts.
func normalizeNodeAddresses(addresses map[string]string) map[string]string {
	normalized := make(map[string]string, len(addresses))
	for transport, address := range addresses {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			continue
		}
		normalized[strings.ToLower(transport)] = net.JoinHostPort(host, port)
	}
	return normalized
}

// publish writes the current bindings of user on this node to the shared
// store, or removes them when none are left. publishMu makes the writes
// follow the order of the changes. A failed write is logged: the phone
// still works through this node, and the next refresh writes again.
func (r *Registrar) publish(user string) {
	if r.shared == nil {
		return
	}

	r.publishMu.Lock()
	defer r.publishMu.Unlock()

	now := r.now()
	r.mu.Lock()
	current := r.userBindingsLocked(user, now)
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), r.sharedTimeout)
	defer cancel()
	if err := r.shared.SaveBindings(ctx, r.node, user, current, now); err != nil {
		r.log.Warn().Err(err).Str("user", user).Int("bindings", len(current)).
			Msg("writing bindings to the shared store failed: other nodes cannot ring this phone until its next refresh")
	}
}

// lookupShared returns the most recently refreshed binding of user that
// another node wrote to the shared store. Entries of this node are
// skipped: this node's memory is the truth for them, and an entry it no
// longer holds is left over from before a restart.
func (r *Registrar) lookupShared(user string, now time.Time) (Binding, bool) {
	others, err := r.otherBindings(user, now)
	if err != nil {
		r.log.Warn().Err(err).Str("user", user).Msg("reading bindings from the shared store failed: the counselor counts as unregistered")
		return Binding{}, false
	}
	latest, ok := latestBinding(others, now)
	if !ok {
		return Binding{}, false
	}
	return latest.clone(), true
}

// otherBindings returns the unexpired bindings of user that other nodes
// hold, from the shared store.
func (r *Registrar) otherBindings(user string, now time.Time) ([]Binding, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.sharedTimeout)
	defer cancel()
	stored, err := r.shared.LoadBindings(ctx, user, now)
	if err != nil {
		return nil, fmt.Errorf("load bindings of %s: %w", user, err)
	}

	others := make([]Binding, 0, len(stored))
	for _, binding := range stored {
		if binding.Node != r.node && binding.Expires.After(now) {
			others = append(others, binding)
		}
	}
	return others, nil
}

// registeredElsewhere reports whether another node still holds a binding
// of user. Registration and login are separate, and the end of the last
// registration logs the counselor out. In shared mode "last" counts the
// bindings of every node: a counselor whose phone is still registered on
// another node stays logged in. When the store cannot be read, the
// counselor counts as unregistered and is logged out, because a counselor
// that no node can ring must not take offers.
func (r *Registrar) registeredElsewhere(user string) bool {
	if r.shared == nil {
		return false
	}
	others, err := r.otherBindings(user, r.now())
	if err != nil {
		r.log.Warn().Err(err).Str("user", user).Msg("reading bindings from the shared store failed: logging the counselor out")
		return false
	}
	if len(others) == 0 {
		return false
	}
	r.log.Info().Str("user", user).Str("node", others[0].Node).
		Msg("last binding on this node ended, but the phone is still registered on another node: the counselor stays logged in")
	return true
}

// RestoreShared takes back this node's bindings that the shared store kept
// across a restart, so that phones registered through this node stay
// reachable from it until they register again. It looks at the counselors
// the registrar knows and returns how many bindings it restored. Embedded
// mode restores nothing.
func (r *Registrar) RestoreShared(ctx context.Context) int {
	if r.shared == nil {
		return 0
	}
	now := r.now()
	restored := 0
	for _, user := range slices.Sorted(maps.Keys(r.passwords)) {
		stored, err := r.shared.LoadBindings(ctx, user, now)
		if err != nil {
			r.log.Warn().Err(err).Str("user", user).Msg("reading this node's bindings from the shared store failed: the phone is reachable again once it registers")
			continue
		}
		restored += r.restoreOwn(user, stored, now)
	}
	r.deliverChanges()
	r.wakeSweeper()
	if restored > 0 {
		r.log.Info().Int("bindings", restored).Msg("bindings of this node restored from the shared store")
	}
	return restored
}

// restoreOwn adds the unexpired bindings of stored that this node holds to
// the local bindings of user, leaving any binding made since the start
// alone, and returns how many it added.
func (r *Registrar) restoreOwn(user string, stored []Binding, now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()

	added := 0
	for _, binding := range stored {
		if binding.Node != r.node || !binding.Expires.After(now) {
			continue
		}
		key := contactKey(binding.Contact)
		if _, exists := r.bindings[user][key]; exists {
			continue
		}
		if r.bindings[user] == nil {
			r.bindings[user] = make(map[string]Binding)
		}
		// This node's own Path is the only one with a flow token: a front
		// proxy's Path has none.
		binding.direct = len(binding.Path) == 1 && strings.Contains(binding.Path[0], flowTokenParam+"=")
		r.bindings[user][key] = binding
		added++
	}
	r.announceLocked(user)
	return added
}
