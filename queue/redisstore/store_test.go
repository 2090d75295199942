package redisstore_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"helpline/internal/redistest"
	"helpline/queue"
	"helpline/queue/queuetest"
	"helpline/queue/redisstore"
)

// testNode is the node of stores that tests do not give another name.
const testNode = "node-test"

// prefixes numbers the key prefixes of the stores one test run creates.
var prefixes atomic.Int64

// newPrefix returns a key prefix no other store of this test run uses, so
// that stores on one server start empty.
func newPrefix() string {
	return fmt.Sprintf("{test-%d}:", prefixes.Add(1))
}

func TestStoreContract(t *testing.T) {
	client := redistest.Start(t).Client(t)

	queuetest.RunStoreContract(t, func(t *testing.T) queue.Store {
		return redisstore.New(client, testNode, redisstore.WithPrefix(newPrefix()))
	})
}

// shared is one Redis server with a store on it for each of several nodes,
// all with one key prefix.
type shared struct {
	client *redis.Client
	prefix string
	stores []*redisstore.Store
}

// newShared starts a server and makes a store on it for each node.
func newShared(t testing.TB, nodes ...string) shared {
	t.Helper()
	s := shared{client: redistest.Start(t).Client(t), prefix: newPrefix()}
	for _, node := range nodes {
		s.stores = append(s.stores, redisstore.New(s.client, node, redisstore.WithPrefix(s.prefix)))
	}
	return s
}

func TestStoppedServerGivesConnectionErrors(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	store := redisstore.New(client, testNode, redisstore.WithPrefix(newPrefix()))
	srv.Kill()

	domain := []error{queue.ErrAlreadyQueued, queue.ErrNotWaiting, queue.ErrNoCounselor, queue.ErrUnknownCounselor}
	tests := []struct {
		name string
		call func() error
	}{
		{name: "Enqueue", call: func() error {
			return store.Enqueue(t.Context(), queue.Caller{CallID: "call-1", Queue: "general"})
		}},
		{name: "Reserve", call: func() error {
			_, err := store.Reserve(t.Context(), queue.ReserveRequest{CallID: "call-1"})
			return err
		}},
		{name: "Counselor", call: func() error {
			_, err := store.Counselor(t.Context(), "c1")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("call on a stopped server succeeded")
			}
			for _, target := range domain {
				if errors.Is(err, target) {
					t.Errorf("error %v matches domain error %v", err, target)
				}
			}
		})
	}
}
