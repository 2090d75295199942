// Package redisbindings keeps the registrar bindings of every helpline node
// in Redis, for shared mode: sip.BindingStore on go-redis.
//
// Each counselor has one key, {helpline}:bindings:<user>, holding a JSON
// array of the bindings of every node. A write replaces the entries of one
// node in a WATCH/MULTI transaction, drops expired entries, and sets the
// key's TTL to the latest expiry, so the key disappears with the last
// binding. The {helpline} hash tag keeps every key of the project in one
// Redis Cluster slot.
package redisbindings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"helpline/sip"
)

// KeyPrefix starts the key of each counselor's bindings.
const KeyPrefix = "{helpline}:bindings:"

// maxAttempts bounds the retries of a write whose key another node changed
// between WATCH and EXEC.
const maxAttempts = 10

// ErrConflict means a write lost the race for a key maxAttempts times in a
// row, because other nodes kept changing the same counselor's bindings.
var ErrConflict = errors.New("bindings changed by other nodes on every attempt")

// Store is a sip.BindingStore on Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	log    zerolog.Logger
}

var _ sip.BindingStore = (*Store)(nil)

// Option adjusts a Store built by New.
type Option func(*Store)

// WithLogger sets the logger that receives stored entries that cannot be
// decoded. The default discards them.
func WithLogger(log zerolog.Logger) Option {
	return func(s *Store) { s.log = log }
}

// New returns a store that uses client, which the caller keeps and closes.
func New(client redis.UniversalClient, opts ...Option) *Store {
	s := &Store{client: client, log: zerolog.Nop()}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Key returns the Redis key of user's bindings.
func Key(user string) string {
	return KeyPrefix + user
}

// record is one binding as stored in Redis. Times are Unix milliseconds.
type record struct {
	User      string   `json:"user"`
	Node      string   `json:"node"`
	Contact   string   `json:"contact"`
	Source    string   `json:"source"`
	Transport string   `json:"transport"`
	Path      []string `json:"path,omitempty"`
	CallID    string   `json:"call_id"`
	CSeq      uint32   `json:"cseq"`
	ExpiresMS int64    `json:"expires_ms"`
	UpdatedMS int64    `json:"updated_ms"`
}

// SaveBindings replaces the entries of node in user's key with bindings.
func (s *Store) SaveBindings(ctx context.Context, node, user string, bindings []sip.Binding, now time.Time) error {
	key := Key(user)
	fresh := make([]record, 0, len(bindings))
	for _, binding := range bindings {
		fresh = append(fresh, toRecord(binding))
	}

	update := func(tx *redis.Tx) error {
		stored, err := s.readRecords(ctx, tx, key)
		if err != nil {
			return err
		}
		merged := mergeRecords(stored, fresh, node, now)
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			return writeRecords(ctx, pipe, key, merged, now)
		})
		return err
	}

	for range maxAttempts {
		err := s.client.Watch(ctx, update, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return fmt.Errorf("save bindings of %s for node %s: %w", user, node, err)
		}
		return nil
	}
	return fmt.Errorf("save bindings of %s for node %s: %w", user, node, ErrConflict)
}

// LoadBindings returns the bindings of user on every node that have not
// expired at now. An entry that cannot be decoded is skipped, so one bad
// entry does not hide the others; its node overwrites it on the next write.
func (s *Store) LoadBindings(ctx context.Context, user string, now time.Time) ([]sip.Binding, error) {
	stored, err := s.readRecords(ctx, s.client, Key(user))
	if err != nil {
		return nil, fmt.Errorf("load bindings of %s: %w", user, err)
	}

	bindings := make([]sip.Binding, 0, len(stored))
	for _, rec := range stored {
		if rec.ExpiresMS <= now.UnixMilli() {
			continue
		}
		binding, err := rec.binding()
		if err != nil {
			s.log.Warn().Err(err).Str("user", user).Str("node", rec.Node).Msg("skipping a stored binding that cannot be decoded")
			continue
		}
		bindings = append(bindings, binding)
	}
	return bindings, nil
}

// readRecords returns the records under key, none when it is missing. A
// value that is not a JSON array of records is logged and counts as empty,
// so the next write replaces it.
func (s *Store) readRecords(ctx context.Context, client redis.Cmdable, key string) ([]record, error) {
	raw, err := client.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}

	var stored []record
	if err := json.Unmarshal(raw, &stored); err != nil {
		s.log.Warn().Err(err).Str("key", key).Msg("ignoring a bindings value that is not a JSON array of bindings")
		return nil, nil
	}
	return stored, nil
}

// mergeRecords keeps the unexpired records of other nodes and adds fresh,
// the records of node.
func mergeRecords(stored, fresh []record, node string, now time.Time) []record {
	kept := make([]record, 0, len(stored)+len(fresh))
	for _, rec := range stored {
		if rec.Node != node && rec.ExpiresMS > now.UnixMilli() {
			kept = append(kept, rec)
		}
	}
	return append(kept, fresh...)
}

// writeRecords sets key to records with a TTL that ends at the latest
// expiry, or deletes key when no record is left unexpired.
func writeRecords(ctx context.Context, pipe redis.Pipeliner, key string, records []record, now time.Time) error {
	var latest int64
	for _, rec := range records {
		latest = max(latest, rec.ExpiresMS)
	}
	ttl := time.Duration(latest-now.UnixMilli()) * time.Millisecond
	if len(records) == 0 || ttl <= 0 {
		pipe.Del(ctx, key)
		return nil
	}

	data, err := json.Marshal(records)
	if err != nil {
		return fmt.Errorf("encode bindings for %s: %w", key, err)
	}
	pipe.Set(ctx, key, data, ttl)
	return nil
}

func toRecord(b sip.Binding) record {
	return record{
		User:      b.User,
		Node:      b.Node,
		Contact:   b.Contact.String(),
		Source:    b.Source.String(),
		Transport: b.Transport,
		Path:      b.Path,
		CallID:    b.CallID,
		CSeq:      b.CSeq,
		ExpiresMS: b.Expires.UnixMilli(),
		UpdatedMS: b.UpdatedAt.UnixMilli(),
	}
}

func (rec record) binding() (sip.Binding, error) {
	var contact sipmsg.Uri
	if err := sipmsg.ParseUri(rec.Contact, &contact); err != nil {
		return sip.Binding{}, fmt.Errorf("parse stored contact %q: %w", rec.Contact, err)
	}
	source, err := netip.ParseAddrPort(rec.Source)
	if err != nil {
		return sip.Binding{}, fmt.Errorf("parse stored source %q: %w", rec.Source, err)
	}

	return sip.Binding{
		User:      rec.User,
		Contact:   contact,
		Source:    source,
		Transport: rec.Transport,
		Expires:   time.UnixMilli(rec.ExpiresMS),
		CallID:    rec.CallID,
		CSeq:      rec.CSeq,
		UpdatedAt: time.UnixMilli(rec.UpdatedMS),
		Path:      rec.Path,
		Node:      rec.Node,
	}, nil
}
