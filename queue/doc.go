// Package queue owns the state of the automatic call distributor: the
// callers waiting in each queue, the state of every counselor, and the
// reservation that ties one waiting caller to one counselor while the
// counselor's phone rings.
//
// Store is the contract. Each of its methods is one atomic step over that
// state, small enough to be a single Lua script in a shared store such as
// Redis. Several server processes can then distribute from one queue
// without offering a caller twice or a counselor two callers. MemoryStore
// implements Store for a single process, and package queuetest holds the
// contract tests that every implementation must pass.
//
// Beyond the single rule that Reserve applies (longest idle counselor
// first), the package decides nothing about who gets which call. The policy
// that turns this state into offers lives in package routing. The package
// follows no RFC and never touches the network.
//
// WaitEstimator gives a waiting caller a rough estimate of the wait left,
// from the queue's recent talk times, the caller's place in line and the
// counselors who take calls.
//
// A counselor moves through these states:
//
//	logged_out ──login──▶ available ──Reserve──▶ offered ──Connect──▶ on_call
//	                          ▲   ▲                  │                   │
//	                          │   └─CancelReservation┘                   │
//	                          └──EndWrapUp── wrap_up ◀────FinishCall─────┘
//
// and between available, break and logged_out by SetState. A counselor in
// wrap_up whose WrapUpUntil has passed counts as available for Reserve.
package queue
