package redisstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"

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

// newStores returns one client on a new server and a store on it for each
// node, all sharing one key prefix.
func newStores(t *testing.T, nodes ...string) (*redis.Client, []*redisstore.Store) {
	t.Helper()
	client := redistest.Start(t).Client(t)
	prefix := newPrefix()
	stores := make([]*redisstore.Store, 0, len(nodes))
	for _, node := range nodes {
		stores = append(stores, redisstore.New(client, node, redisstore.WithPrefix(prefix)))
	}
	return client, stores
}
