package queue_test

import (
	"testing"

	"helpline/queue"
	"helpline/queue/queuetest"
)

func TestMemoryStore(t *testing.T) {
	queuetest.RunStoreContract(t, func(t *testing.T) queue.Store {
		return queue.NewMemoryStore()
	})
}
