package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"helpline/queue"
)

// errShortTTL is returned for a liveness or lock time under one
// millisecond, the unit Redis stores them in.
var errShortTTL = errors.New("time to live is under one millisecond")

// Heartbeat implements queue.NodeStore.
func (s *Store) Heartbeat(ctx context.Context, node string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", node, err)
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("heartbeat of node %s with TTL %s: %w", node, ttl, errShortTTL)
	}

	_, err := s.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, s.keys.liveness+node, "alive", ttl)
		pipe.SAdd(ctx, s.keys.nodes, node)
		return nil
	})
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: write to redis: %w", node, err)
	}
	return nil
}

// StoppedNodes implements queue.NodeStore. It returns the nodes sorted.
func (s *Store) StoppedNodes(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list stopped nodes: %w", err)
	}

	stopped, err := stoppedNodesScript.Run(ctx, s.client, []string{s.keys.nodes}, s.keys.liveness).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("list stopped nodes: run redis script stopped_nodes: %w", err)
	}
	slices.Sort(stopped)
	return stopped, nil
}

// ClaimNode implements queue.NodeStore. A claimant that already holds the
// lock gets true and the lock for ttl from now.
func (s *Store) ClaimNode(ctx context.Context, node, claimant string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("claim node %s for %s: %w", node, claimant, err)
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("claim node %s for %s for %s: %w", node, claimant, ttl, errShortTTL)
	}

	held, err := claimNodeScript.Run(ctx, s.client, []string{s.keys.reclaim + node}, claimant, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("claim node %s for %s: run redis script claim_node: %w", node, claimant, err)
	}
	return held == 1, nil
}

// ReclaimNode implements queue.NodeStore in one script. Released counselors
// become available with their IdleSince kept, or logged_out when a logout
// was requested, and their callers, when still waiting, lose the offer. A
// caller of another node that waits for a counselor offered by node gets
// OfferedTo cleared. Callers and counselors are returned sorted by ID.
func (s *Store) ReclaimNode(ctx context.Context, node string, now time.Time) (queue.Reclaimed, error) {
	if err := ctx.Err(); err != nil {
		return queue.Reclaimed{}, fmt.Errorf("reclaim node %s: %w", node, err)
	}

	status, reply, err := s.run(ctx, reclaimScript, append([]any{node}, timeArgs(now)...)...)
	if err != nil {
		return queue.Reclaimed{}, fmt.Errorf("reclaim node %s: %w", node, err)
	}
	if status != statusOK {
		return queue.Reclaimed{}, fmt.Errorf("reclaim node %s: %w", node, unexpected(reclaimScript, status))
	}

	reclaimed, err := reclaimedFromReply(reply)
	if err != nil {
		return queue.Reclaimed{}, fmt.Errorf("reclaim node %s: %w", node, err)
	}
	return reclaimed, nil
}

// reclaimedFromReply decodes the reclaim script's reply: caller records,
// released counselor IDs and on_call counselor IDs.
func reclaimedFromReply(reply []any) (queue.Reclaimed, error) {
	raws, err := replyStrings(reply, 0)
	if err != nil {
		return queue.Reclaimed{}, err
	}
	var reclaimed queue.Reclaimed
	for _, raw := range raws {
		caller, err := decodeCaller(raw)
		if err != nil {
			return queue.Reclaimed{}, err
		}
		reclaimed.Callers = append(reclaimed.Callers, caller)
	}
	slices.SortFunc(reclaimed.Callers, func(a, b queue.Caller) int { return cmp.Compare(a.CallID, b.CallID) })

	if reclaimed.Released, err = replyStrings(reply, 1); err != nil {
		return queue.Reclaimed{}, err
	}
	if reclaimed.OnCall, err = replyStrings(reply, 2); err != nil {
		return queue.Reclaimed{}, err
	}
	slices.Sort(reclaimed.Released)
	slices.Sort(reclaimed.OnCall)
	return reclaimed, nil
}

// ForgetNode implements queue.NodeStore. It also drops the node's reclaim
// lock.
func (s *Store) ForgetNode(ctx context.Context, node string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("forget node %s: %w", node, err)
	}

	_, err := s.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.SRem(ctx, s.keys.nodes, node)
		pipe.Del(ctx, s.keys.reclaim+node)
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget node %s: write to redis: %w", node, err)
	}
	return nil
}

// Watch implements queue.NodeStore. It calls fn from one goroutine, one
// wake-up at a time. Wake-ups published while the subscription was down
// are lost, so after each reconnection Watch calls fn with "". It returns
// nil once ctx ends, or an error when the first subscription fails.
func (s *Store) Watch(ctx context.Context, fn func(queue string)) error {
	sub := s.client.Subscribe(ctx, s.keys.wake)
	defer sub.Close()

	if _, err := sub.Receive(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("subscribe to redis channel %s: %w", s.keys.wake, err)
	}

	messages := sub.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return nil
		case message, ok := <-messages:
			if !ok {
				return fmt.Errorf("watch redis channel %s: subscription closed", s.keys.wake)
			}
			deliver(message, fn)
		}
	}
}

// deliver passes one pub/sub message to fn: the payload of a wake-up, or ""
// for a new subscription after a reconnection.
func deliver(message any, fn func(queue string)) {
	switch m := message.(type) {
	case *redis.Message:
		fn(m.Payload)
	case *redis.Subscription:
		if m.Kind == "subscribe" {
			fn("")
		}
	}
}
