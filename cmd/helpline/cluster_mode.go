package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/cluster"
	"helpline/config"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
	"helpline/routing"
	"helpline/sip"
	"helpline/sip/redisbindings"
	"helpline/web"
)

// startReclaimTimeout bounds the reclaim of this node's earlier run at
// start, which waits for another node's reclaim lock of up to two liveness
// TTLs.
const startReclaimTimeout = 60 * time.Second

// sharedNode is this node's part in shared mode: its ID, the Redis client,
// the shared queue store and the loops that tie it to the other nodes. A
// nil *sharedNode is embedded mode, and its methods do nothing.
type sharedNode struct {
	cfg    *config.Config
	id     string
	client redis.UniversalClient
	store  queue.NodeStore
	log    zerolog.Logger
	// nodeLog carries the node ID without a component, for the parts that
	// name their own component.
	nodeLog zerolog.Logger

	watchdog *cluster.Watchdog
	stream   *cluster.EventStream
	// buffer holds new callers and state changes while Redis cannot be
	// reached. Every part of this node but the watchdog uses it as the
	// queue store.
	buffer *queue.Buffered

	// stopLoops ends the watchdog and the wake-up loops, and loops tracks
	// them.
	stopLoops context.CancelFunc
	loops     sync.WaitGroup
}

// errSharedStoreMissing is returned in shared mode by a build without the
// Redis queue store.
var errSharedStoreMissing = errors.New("cluster.mode shared: this build has no Redis queue store: use a build with shared mode or set cluster.mode: embedded")

// errNodeRecordsMissing is returned in shared mode by a build whose records
// store cannot close one node's records.
var errNodeRecordsMissing = errors.New("cluster.mode shared: this build's records store cannot close one node's calls: use a build with shared mode or set cluster.mode: embedded")

// openQueue returns the queue store: in memory in embedded mode, or in
// Redis with this node's sharedNode in shared mode.
func openQueue(cfg *config.Config, log zerolog.Logger) (queue.Store, *sharedNode, error) {
	if !cfg.Shared() {
		return queue.NewMemoryStore(), nil, nil
	}
	node, err := openSharedNode(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return node.store, node, nil
}

// openSharedNode names this node, builds the Redis client and opens the
// shared queue store.
func openSharedNode(cfg *config.Config, log zerolog.Logger) (*sharedNode, error) {
	if openSharedStore == nil {
		return nil, configError{errSharedStoreMissing}
	}
	if markNodeInterrupted == nil {
		return nil, configError{errNodeRecordsMissing}
	}
	id, err := cluster.NodeID(cfg.Cluster)
	if err != nil {
		return nil, configError{err}
	}
	cluster.RouteRedisLogs(log)
	client, err := cluster.NewRedisClient(cfg.Cluster.Redis)
	if err != nil {
		return nil, configError{err}
	}
	nodeLog := log.With().Str("node", id).Logger()
	return &sharedNode{
		cfg: cfg, id: id, client: client, store: openSharedStore(client, id),
		log: nodeLog.With().Str("component", "cluster").Logger(), nodeLog: nodeLog,
	}, nil
}

// withBuffer wraps q, the shared store, in the outage buffer and returns
// the buffer, or returns q unchanged in embedded mode. notify wakes the
// distributors once held callers are written to Redis.
func (n *sharedNode) withBuffer(q queue.Store, notify func()) queue.Store {
	if n == nil {
		return q
	}
	n.buffer = newOutageBuffer(n.cfg.Cluster, q, notify, n.nodeLog)
	return n.buffer
}

// shareBindings makes the registrar keep its bindings in Redis as well, so
// that every node finds every counselor's phone, and tells it where the
// other nodes reach this node's listeners. It does nothing in embedded mode.
func (n *sharedNode) shareBindings(rc *sip.RegistrarConfig) {
	if n == nil {
		return
	}
	rc.Shared = redisbindings.New(n.client, redisbindings.WithLogger(n.log))
	rc.Node = n.id
	rc.NodeAddresses = nodeAddresses(n.cfg)
}

// nodeAddresses returns where the other nodes reach this node, per
// transport. TLS listeners are left out: the nodes talk over UDP or TCP
// inside their own network, and a phone registered over TLS gets a Path
// over one of those that names its TLS flow.
func nodeAddresses(cfg *config.Config) map[string]string {
	addresses := make(map[string]string, len(cfg.SIP.Listen))
	for _, l := range cfg.SIP.Listen {
		if _, taken := addresses[l.Network]; taken || l.Network == "tls" {
			continue
		}
		port := strconv.Itoa(int(l.Address.Port()))
		addresses[l.Network] = net.JoinHostPort(cfg.SIP.PublicHost, port)
	}
	return addresses
}

// readyChecks adds the shared store's reachability to /readyz: a node whose
// heartbeat fails is not ready. Embedded mode adds nothing.
func (n *sharedNode) readyChecks() []web.ReadyCheck {
	if n == nil || n.watchdog == nil {
		return nil
	}
	return []web.ReadyCheck{{Name: "shared_store", Check: n.watchdog.Ready}}
}

// restoreBindings takes back the registrations that this node held before
// a restart and that Redis kept, so that those phones stay reachable from
// this node. It does nothing in embedded mode.
func (n *sharedNode) restoreBindings(registrar *sip.Registrar) {
	if n == nil {
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), startReclaimTimeout)
	defer stop()
	registrar.RestoreShared(ctx)
}

// nodeID returns this node's ID, or "" in embedded mode.
func (n *sharedNode) nodeID() string {
	if n == nil {
		return ""
	}
	return n.id
}

// wire builds the watchdog once the parts it drives exist, and starts
// copying events to the Redis stream. Callback tasks for interrupted
// callers are created only when callbacks are on.
func (n *sharedNode) wire(store *records.Store, callbacks *callback.Manager, bus *events.Bus, notify func()) {
	if n == nil {
		return
	}
	opts := []cluster.WatchdogOption{
		cluster.WithRecords(nodeRecords{store: store}),
		cluster.WithWrapUp(wrapUpOf(n.cfg)),
		cluster.WithEvents(bus),
		cluster.WithNotify(notify),
		cluster.WithLogger(n.log),
	}
	if names := n.cfg.QueueNames(); len(names) > 0 {
		opts = append(opts, cluster.WithDefaultQueue(names[0]))
	}
	if callbacksEnabled(n.cfg) {
		opts = append(opts, cluster.WithCallbacks(callbacks))
	}
	n.watchdog = cluster.NewWatchdog(n.store, n.id, n.cfg.Cluster.LivenessTTL, opts...)
	n.stream = cluster.StartEventStream(n.client, bus, n.id, n.log)
}

// start reclaims what this node's earlier run left, sets the liveness key,
// and then runs the watchdog and passes other nodes' wake-ups to the
// distributors, which serve cfg.Queues in order. Call it before taking
// calls.
func (n *sharedNode) start(distributors []*routing.Distributor) error {
	if n == nil {
		return nil
	}
	startCtx, stop := context.WithTimeout(context.Background(), startReclaimTimeout)
	err := n.watchdog.Start(startCtx)
	stop()
	if err != nil {
		return fmt.Errorf("starting shared mode (Redis %v): %w", n.cfg.Cluster.Redis.Addrs, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n.stopLoops = cancel
	wake := wakeByQueue(n.cfg.QueueNames(), notifiers(distributors))
	n.loops.Go(func() { _ = n.watchdog.Run(ctx) })
	if n.buffer != nil {
		n.loops.Go(func() { _ = n.buffer.Run(ctx) })
	}
	n.loops.Go(func() { cluster.RunWakeups(ctx, n.store, wake, n.log) })
	n.log.Info().Dur("liveness_ttl", n.cfg.Cluster.LivenessTTL).Msg("shared mode started")
	return nil
}

// stop ends the watchdog and the wake-up loops. Other nodes take this node
// for stopped once its liveness key expires, and reclaim what the drain
// left.
func (n *sharedNode) stop() {
	if n == nil || n.stopLoops == nil {
		return
	}
	n.stopLoops()
	n.loops.Wait()
}

// closeStream writes the events still buffered for the Redis stream, within
// ctx. Call it after the SIP stack closed, so that the last calls' events
// reach the stream.
func (n *sharedNode) closeStream(ctx context.Context) {
	if n == nil || n.stream == nil {
		return
	}
	if err := n.stream.Close(ctx); err != nil {
		n.log.Warn().Err(err).Msg("events still buffered for the Redis stream were not written")
	}
}

// closeClient closes the Redis connections. Call it last.
func (n *sharedNode) closeClient() {
	if n == nil {
		return
	}
	if err := n.client.Close(); err != nil {
		n.log.Warn().Err(err).Msg("closing the Redis client failed")
	}
}

// notifiers returns the Notify function of each distributor.
func notifiers(distributors []*routing.Distributor) []func() {
	list := make([]func(), 0, len(distributors))
	for _, d := range distributors {
		list = append(list, d.Notify)
	}
	return list
}

// wakeByQueue returns a wake-up function that calls the notify function of
// the named queue, or every one for "". queues[i] names the queue of
// notify[i]. A queue this node does not serve is ignored.
func wakeByQueue(queues []string, notify []func()) func(queue string) {
	byQueue := make(map[string]func(), len(queues))
	for i, name := range queues {
		if i < len(notify) {
			byQueue[name] = notify[i]
		}
	}
	return func(queue string) {
		if queue != "" {
			if fn, ok := byQueue[queue]; ok {
				fn()
			}
			return
		}
		for _, fn := range notify {
			fn()
		}
	}
}

// wrapUpOf returns each counselor's wrap-up time: the counselor's own, or
// queue.wrap_up.
func wrapUpOf(cfg *config.Config) func(counselorID string) time.Duration {
	own := counselorWrapUps(cfg)
	return func(id string) time.Duration {
		if d, ok := own[id]; ok {
			return d
		}
		return cfg.Queue.WrapUp
	}
}

// nodeRecords gives the watchdog the records store's per-node close.
type nodeRecords struct {
	store *records.Store
}

// MarkNodeInterrupted implements cluster.Records.
func (r nodeRecords) MarkNodeInterrupted(ctx context.Context, node string, now time.Time) ([]cluster.InterruptedCall, error) {
	return markNodeInterrupted(ctx, r.store, node, now)
}

// ListOpenCallbacks implements cluster.Records.
func (r nodeRecords) ListOpenCallbacks(ctx context.Context) ([]records.Callback, error) {
	return r.store.ListOpenCallbacks(ctx)
}
