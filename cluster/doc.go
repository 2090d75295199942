// Package cluster connects the nodes of shared mode: several helpline
// processes that share their queue state in Redis and their records in one
// database.
//
// It owns four things. NewRedisClient opens the Redis connection the
// configuration describes: one server, a Sentinel set or a Redis Cluster.
// NodeID names this node among the others. A Watchdog keeps this node's
// liveness key alive and reclaims what a stopped node left behind: its
// waiting callers become callback tasks, its counselors' offers and calls
// are released, and its open call records are closed as interrupted.
// EventStream copies every event of this node into one Redis stream that all
// nodes share, and RunWakeups turns the store's wake-ups from other nodes
// into distributor wake-ups.
//
// Every Redis key starts with the hash tag {helpline} (see StreamKey), so that
// a Redis Cluster keeps all keys in one slot. The package follows no RFC.
package cluster
