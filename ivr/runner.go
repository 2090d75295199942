package ivr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rs/zerolog"
)

// Sentinel errors of the runner.
var (
	// ErrTooManySteps means a call visited more nodes than the runner
	// allows, which points to a loop in the menu. The call is hung up.
	ErrTooManySteps = errors.New("too many ivr steps")
	// ErrInvalidGraph means NewRunner found a menu it cannot run. The
	// wrapped errors name each configuration key to fix.
	ErrInvalidGraph = errors.New("invalid ivr menu")
)

// DefaultMaxSteps is the number of node visits after which Run stops with
// ErrTooManySteps. The shipped menu needs at most five visits per call.
const DefaultMaxSteps = 50

// Call attribute keys that menus set and the call record stores.
const (
	// AttributeLanguage selects the language of the prompts. Run starts it
	// at Graph.DefaultLanguage.
	AttributeLanguage = "language"
	// AttributeCallerType is the person the call is about: "self" or
	// "someone_else" in the shipped menu.
	AttributeCallerType = "caller_type"
	// AttributePriority is the caller's queue priority: "high_risk" for a
	// caller who said they are in danger right now.
	AttributePriority = "priority"
)

// PriorityHighRisk is the AttributePriority value of a caller in danger.
const PriorityHighRisk = "high_risk"

// TransferGeneralService is the Transfer target that names the 120 general
// service URI of the trunk configuration instead of a SIP URI. A transfer
// resolver maps it to trunk.general_service_uri.
const TransferGeneralService = "general_service"

// Media is the audio path of one call: prompt playback and DTMF input.
type Media interface {
	// Play plays one prompt in the given language; it returns nil when the
	// prompt ended, ctx.Err() when ctx ended. Play must return promptly
	// once ctx ends, because barge-in waits for it.
	Play(ctx context.Context, prompt, language string) error
	// Digits delivers DTMF digits as they arrive (RFC 4733 events and SIP
	// INFO, merged by the caller of Run). A closed channel means that no
	// more digits will come, and the runner then treats the caller as
	// silent.
	Digits() <-chan rune
}

// Action is the ending of an IVR run.
type Action int

const (
	// ActionHangup ends the call. It is the zero value, so that a Result of
	// a failed run never queues or transfers.
	ActionHangup Action = iota
	// ActionQueue puts the caller in Result.Queue.
	ActionQueue
	// ActionTransfer transfers the caller to Result.Transfer.
	ActionTransfer
)

// String returns the lowercase name used in logs and call records.
func (a Action) String() string {
	switch a {
	case ActionHangup:
		return "hangup"
	case ActionQueue:
		return "queue"
	case ActionTransfer:
		return "transfer"
	default:
		return fmt.Sprintf("action(%d)", int(a))
	}
}

// Result is the outcome of one Run, complete or partial.
type Result struct {
	Action Action
	// Queue is the queue name for ActionQueue.
	Queue string
	// Transfer is the target as written in the node ("general_service" or
	// a SIP URI) for ActionTransfer. The caller of Run resolves it.
	Transfer string
	// Attributes holds the call attributes, such as language and
	// caller_type.
	Attributes map[string]string
	// Digits holds every DTMF key the runner received, in order: keys that
	// chose a branch, invalid keys, keys pressed while the invalid prompt
	// played (which the menu ignores) and the # terminator.
	Digits string
	// Path lists the names of the visited nodes, in order and with repeats.
	Path []string
}

// Hooks report progress while Run goes on, so that the call record is
// updated at each step. Run calls them on its own goroutine, so they must
// not block. A nil func is skipped.
type Hooks struct {
	// OnDigits receives all digits received so far each time one arrives.
	OnDigits func(digits string)
	// OnAttribute receives each attribute as it is set, including the
	// starting language.
	OnAttribute func(key, value string)
	// OnNode receives the name of each node as the call enters it.
	OnNode func(name string)
}

// Option configures a Runner.
type Option func(*Runner)

// WithLogger sets the logger, which should carry the call's call_id. The
// default discards logs.
func WithLogger(logger zerolog.Logger) Option {
	return func(r *Runner) { r.log = logger }
}

// WithHooks sets the progress hooks.
func WithHooks(hooks Hooks) Option {
	return func(r *Runner) { r.hooks = hooks }
}

// WithTransferResolver sets how a Transfer target becomes an address:
// resolve returns "" when the target is not configured, and the call then
// goes to the node's Fallback. The default resolver accepts sip: and sips:
// URIs as written and returns "" for anything else, TransferGeneralService
// included.
func WithTransferResolver(resolve func(target string) string) Option {
	return func(r *Runner) {
		if resolve != nil {
			r.resolveTransfer = resolve
		}
	}
}

// WithMaxSteps sets the number of node visits after which Run stops with
// ErrTooManySteps. Values below 1 keep DefaultMaxSteps.
func WithMaxSteps(steps int) Option {
	return func(r *Runner) {
		if steps > 0 {
			r.maxSteps = steps
		}
	}
}

// Runner runs the menu for one call: its hooks and logger belong to that
// call. It does not change after NewRunner, and Run may be called again,
// for example in tests.
type Runner struct {
	graph           *Graph
	log             zerolog.Logger
	hooks           Hooks
	resolveTransfer func(target string) string
	maxSteps        int
}

// NewRunner checks that g can be run and returns a Runner for it. The graph
// must not change while the Runner is in use. Errors wrap ErrInvalidGraph
// and name each configuration key at fault.
func NewRunner(g *Graph, opts ...Option) (*Runner, error) {
	if err := checkGraph(g); err != nil {
		return nil, fmt.Errorf("creating ivr runner: %w", err)
	}

	r := &Runner{
		graph:           g,
		log:             zerolog.Nop(),
		resolveTransfer: resolveSIPURI,
		maxSteps:        DefaultMaxSteps,
	}
	for _, opt := range opts {
		opt(r)
	}
	return r, nil
}

// resolveSIPURI is the default transfer resolver.
func resolveSIPURI(target string) string {
	lower := strings.ToLower(target)
	if strings.HasPrefix(lower, "sip:") || strings.HasPrefix(lower, "sips:") {
		return target
	}
	return ""
}

// Run walks the menu from Graph.Start until a node queues, transfers or
// hangs up the caller. When ctx ends (the caller hung up), Run returns the
// partial Result with ActionHangup and an error that wraps
// context.Cause(ctx). A menu that loops ends with ErrTooManySteps and
// ActionHangup.
func (r *Runner) Run(ctx context.Context, m Media) (Result, error) {
	c := r.newCall(m)
	name := r.graph.Start

	for visits := 1; ; visits++ {
		if visits > r.maxSteps {
			c.result.Action = ActionHangup
			r.log.Warn().Int("max_steps", r.maxSteps).Strs("path", c.result.Path).
				Msg("ivr stopped after too many steps; hanging up")
			return c.result, fmt.Errorf("running ivr: visited %d nodes without reaching a queue, transfer or hangup; check the menu for a loop: %w",
				r.maxSteps, ErrTooManySteps)
		}

		next, done, err := c.visit(ctx, name)
		if err != nil {
			c.result.Action = ActionHangup
			return c.result, err
		}
		if done {
			r.log.Info().Stringer("action", c.result.Action).Str("queue", c.result.Queue).
				Strs("path", c.result.Path).Msg("ivr finished")
			return c.result, nil
		}
		name = next
	}
}

// call is the state of one Run.
type call struct {
	*Runner
	media Media
	// digits is the media's digit channel, or nil once it closed, so that
	// a receive on it blocks instead of spinning.
	digits <-chan rune
	// node is the name of the current node, for errors and logs.
	node   string
	result Result
}

func (r *Runner) newCall(m Media) *call {
	c := &call{
		Runner: r,
		media:  m,
		digits: m.Digits(),
		result: Result{Attributes: make(map[string]string)},
	}
	c.setAttribute(AttributeLanguage, r.graph.DefaultLanguage)
	return c
}

// visit runs one node. It returns the next node's name, or done when the
// node ended the IVR with c.result.Action set.
func (c *call) visit(ctx context.Context, name string) (next string, done bool, err error) {
	if ctx.Err() != nil {
		return "", false, c.hangupError(ctx)
	}

	node, ok := c.graph.Nodes[name]
	if !ok {
		return "", false, fmt.Errorf("running ivr: node %q not found: %w", name, ErrInvalidGraph)
	}
	c.enter(name, node)

	if node.Collect != nil {
		edge, err := c.collectAndBranch(ctx, node)
		if err != nil || edge == nil {
			return "", edge == nil, err
		}
		c.setAttributes(edge.Set)
		return edge.Next, false, nil
	}

	for _, prompt := range node.Play {
		if err := c.play(ctx, prompt); err != nil {
			return "", false, err
		}
	}
	return c.finishNode(node)
}

// enter records the node in the path and applies its Set.
func (c *call) enter(name string, node Node) {
	c.node = name
	c.result.Path = append(c.result.Path, name)
	if c.hooks.OnNode != nil {
		c.hooks.OnNode(name)
	}
	c.log.Debug().Str("node", name).Msg("ivr node entered")

	c.setAttributes(node.Set)
}

// finishNode takes the ending of a node without Collect.
func (c *call) finishNode(node Node) (next string, done bool, err error) {
	switch {
	case node.Next != "":
		return node.Next, false, nil
	case node.Queue != "":
		c.result.Action = ActionQueue
		c.result.Queue = node.Queue
		return "", true, nil
	case node.Transfer != "":
		return c.transfer(node)
	default:
		c.result.Action = ActionHangup
		return "", true, nil
	}
}

// transfer ends the IVR with a transfer when the target resolves, and
// otherwise goes to the fallback node, or hangs up when there is none.
func (c *call) transfer(node Node) (next string, done bool, err error) {
	if c.resolveTransfer(node.Transfer) != "" {
		c.result.Action = ActionTransfer
		c.result.Transfer = node.Transfer
		return "", true, nil
	}

	// The target may be a SIP URI with a phone number, so only the node
	// name is logged.
	c.log.Info().Str("node", c.node).Str("fallback", node.Fallback).
		Msg("ivr transfer target not configured; taking the fallback")
	if node.Fallback == "" {
		c.result.Action = ActionHangup
		return "", true, nil
	}
	return node.Fallback, false, nil
}

// setAttributes applies set in key order, so that hooks see a stable order.
func (c *call) setAttributes(set map[string]string) {
	for _, key := range slices.Sorted(maps.Keys(set)) {
		c.setAttribute(key, set[key])
	}
}

func (c *call) setAttribute(key, value string) {
	c.result.Attributes[key] = value
	if c.hooks.OnAttribute != nil {
		c.hooks.OnAttribute(key, value)
	}
	c.log.Debug().Str("key", key).Str("value", value).Msg("ivr attribute set")
}

func (c *call) language() string {
	return c.result.Attributes[AttributeLanguage]
}

// hangupError wraps the reason ctx ended.
func (c *call) hangupError(ctx context.Context) error {
	return fmt.Errorf("running ivr node %q: %w", c.node, context.Cause(ctx))
}
