// Package redisstore implements queue.Store and queue.NodeStore on Redis,
// so that several helpline nodes distribute calls from one shared state.
//
// # Key layout
//
// Every key starts with the prefix, by default "{helpline}:". The part in
// braces is a Redis Cluster hash tag: all keys fall into one slot, so each
// multi-key Lua script runs on one cluster node.
//
//	{helpline}:callers      hash: call ID → caller JSON
//	{helpline}:waiting      sorted set, every score 0: one rank per waiting caller
//	{helpline}:counselors   hash: counselor ID → counselor JSON
//	{helpline}:offerable    sorted set, every score 0: IDs of available and wrap_up counselors
//	{helpline}:roundrobin   hash: queue name → counselor the last round_robin offer picked
//	{helpline}:nodes        set of known node IDs
//	{helpline}:node:<id>    liveness key of a node, with a TTL
//	{helpline}:reclaim:<id> lock of the node reclaiming node <id>, with a TTL
//	{helpline}:wake         pub/sub channel of wake-ups (a queue name, or "" for every queue)
//
// A caller's rank is its queue name with its length in front, then its
// priority, arrival and call ID in fixed-width hex. Redis orders members of
// equal score by their bytes, so one lexical range of the waiting set is one
// queue in service order (priority descending, then arrival, then call ID),
// with exact nanoseconds and no floating point. All queues share that one
// set so that scripts which find a caller by call ID name every key they
// touch in KEYS, as Redis Cluster expects.
//
// Times in records are [Unix seconds, nanoseconds] pairs: a Lua number is a
// double, which holds either part exactly but not Unix nanoseconds. Lua
// scripts never order strings with <, because Lua compares them in the
// server's locale, while Go compares bytes. IDs are ordered by the sorted
// sets instead.
//
// # Atomicity
//
// Each Store method is one Redis command or one Lua script, and Redis runs
// a script with no other command in between. So two nodes never offer one
// counselor two callers, nor one caller two counselors: Reserve reads the
// caller, filters and ranks the candidates by every strategy, and writes
// both sides in one script. Each script makes its checks before its first
// write, so a method that returns a domain error such as ErrNotWaiting has
// changed nothing (Connect's ErrReservationLost releases the offer, as the
// queue.Store contract requires). The scripts are sent once and then run by
// their SHA1 digest.
//
// NOTE: StoppedNodes builds the liveness key names inside its script. They
// share the hash tag of the key it declares, so Redis Cluster serves them
// from the same node, but they are not declared in KEYS.
//
// The scripts that may allow a new offer (Enqueue, SetPriority, a counselor
// made available or released, FinishCall, EndWrapUp, ReclaimNode) publish a
// wake-up from inside the script, which Watch delivers on every node.
package redisstore
