package redisstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"helpline/queue"
)

// DefaultPrefix starts every key of a Store made without WithPrefix. The
// braces make it a Redis Cluster hash tag.
const DefaultPrefix = "{helpline}:"

// Store is a queue.NodeStore on Redis. It is safe for concurrent use, and
// several Store values, in one process or many, may share one Redis.
type Store struct {
	client redis.UniversalClient
	node   string
	keys   keys
}

var _ queue.NodeStore = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithPrefix starts every key and the wake-up channel with prefix instead
// of DefaultPrefix. On Redis Cluster the prefix must hold a hash tag, such
// as "{helpline-test}:", so that all keys share one slot.
func WithPrefix(prefix string) Option {
	return func(s *Store) { s.keys = newKeys(prefix) }
}

// New returns a Store on client for the node with ID node, which Enqueue
// stamps on callers that name no node and Reserve stamps on the counselors
// it offers. node must not be empty in shared mode, since ReclaimNode finds
// a stopped node's callers and offers by it.
func New(client redis.UniversalClient, node string, opts ...Option) *Store {
	s := &Store{client: client, node: node, keys: newKeys(DefaultPrefix)}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// keys holds the names of the Store's keys and channel.
type keys struct {
	callers    string
	waiting    string
	counselors string
	offerable  string
	roundRobin string
	nodes      string
	// liveness and reclaim are prefixes that a node ID completes.
	liveness string
	reclaim  string
	wake     string
}

func newKeys(prefix string) keys {
	return keys{
		callers:    prefix + "callers",
		waiting:    prefix + "waiting",
		counselors: prefix + "counselors",
		offerable:  prefix + "offerable",
		roundRobin: prefix + "roundrobin",
		nodes:      prefix + "nodes",
		liveness:   prefix + "node:",
		reclaim:    prefix + "reclaim:",
		wake:       prefix + "wake",
	}
}

// queueKeys returns the KEYS of every queue script, in the order
// lua/common.lua expects.
func (k keys) queueKeys() []string {
	return []string{k.callers, k.waiting, k.counselors, k.offerable, k.roundRobin}
}

//go:embed lua/*.lua
var luaFiles embed.FS

// Scripts. Queue scripts start with lua/common.lua.
var (
	enqueueScript      = queueScript("enqueue")
	leaveScript        = queueScript("leave")
	waitingScript      = queueScript("waiting")
	positionScript     = queueScript("position")
	setPriorityScript  = queueScript("set_priority")
	setStateScript     = queueScript("set_state")
	finishCallScript   = queueScript("finish_call")
	endWrapUpScript    = queueScript("end_wrap_up")
	reserveScript      = queueScript("reserve")
	cancelScript       = queueScript("cancel")
	connectScript      = queueScript("connect")
	reclaimScript      = queueScript("reclaim")
	stoppedNodesScript = redis.NewScript(luaSource("stopped_nodes"))
	claimNodeScript    = redis.NewScript(luaSource("claim_node"))
)

// queueScript returns the script lua/<name>.lua behind the shared helpers.
func queueScript(name string) *namedScript {
	return &namedScript{name: name, script: redis.NewScript(luaSource("common") + "\n" + luaSource(name))}
}

// luaSource returns the text of lua/<name>.lua. The files are embedded, so
// a missing one is a build mistake.
func luaSource(name string) string {
	source, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(fmt.Sprintf("redisstore: embedded script %s: %v", name, err))
	}
	return string(source)
}

// namedScript is a queue script with its name for error messages.
type namedScript struct {
	name   string
	script *redis.Script
}

// Statuses that the queue scripts return first in their reply.
const (
	statusOK               = "ok"
	statusAlreadyQueued    = "already_queued"
	statusNotWaiting       = "not_waiting"
	statusOfferPending     = "offer_pending"
	statusNoCounselor      = "no_counselor"
	statusUnknownStrategy  = "unknown_strategy"
	statusUnknownCounselor = "unknown_counselor"
	statusTransition       = "transition"
	statusLost             = "lost"
)

// errMalformedReply is returned when a script's reply does not have the
// shape this package wrote it to have, which means another program wrote
// the keys or the scripts differ between versions.
var errMalformedReply = errors.New("malformed reply from redis script")

// run executes a queue script with the wake-up channel and args as ARGV,
// and returns the script's status and the rest of its reply.
func (s *Store) run(ctx context.Context, ns *namedScript, args ...any) (string, []any, error) {
	argv := append([]any{s.keys.wake}, args...)
	reply, err := ns.script.Run(ctx, s.client, s.keys.queueKeys(), argv...).Slice()
	if err != nil {
		return "", nil, fmt.Errorf("run redis script %s: %w", ns.name, err)
	}
	if len(reply) == 0 {
		return "", nil, fmt.Errorf("run redis script %s: empty reply: %w", ns.name, errMalformedReply)
	}
	status, ok := reply[0].(string)
	if !ok {
		return "", nil, fmt.Errorf("run redis script %s: status %v: %w", ns.name, reply[0], errMalformedReply)
	}
	return status, reply[1:], nil
}

// unexpected returns the error for a status that a method does not expect
// from its script.
func unexpected(ns *namedScript, status string) error {
	return fmt.Errorf("redis script %s returned status %q: %w", ns.name, status, errMalformedReply)
}

// timeArgs returns t as the two script arguments of a Lua time: Unix
// seconds and nanoseconds.
func timeArgs(t time.Time) []any {
	return []any{t.Unix(), t.Nanosecond()}
}

// replyString returns reply[i] as a string.
func replyString(reply []any, i int) (string, error) {
	if i >= len(reply) {
		return "", fmt.Errorf("reply has %d values, want more than %d: %w", len(reply), i, errMalformedReply)
	}
	value, ok := reply[i].(string)
	if !ok {
		return "", fmt.Errorf("reply value %d is %T, want a string: %w", i, reply[i], errMalformedReply)
	}
	return value, nil
}

// replyStrings returns reply[i], an array of strings.
func replyStrings(reply []any, i int) ([]string, error) {
	if i >= len(reply) {
		return nil, fmt.Errorf("reply has %d values, want more than %d: %w", len(reply), i, errMalformedReply)
	}
	values, ok := reply[i].([]any)
	if !ok {
		return nil, fmt.Errorf("reply value %d is %T, want an array: %w", i, reply[i], errMalformedReply)
	}
	strs := make([]string, 0, len(values))
	for _, value := range values {
		str, ok := value.(string)
		if !ok {
			return nil, fmt.Errorf("reply array %d contains %T, want strings: %w", i, value, errMalformedReply)
		}
		strs = append(strs, str)
	}
	return strs, nil
}
