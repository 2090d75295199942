// Package routing owns the distribution policy: which waiting caller is
// offered to which counselor, and what happens when an offer fails. In this
// version the policy is longest idle counselor first, with callers served in
// the order queue.Store.Waiting returns (priority, then arrival).
//
// A Distributor runs one loop per queue. On each wake-up it walks the
// waiting callers in order and calls queue.Store.Reserve for each caller
// that has no offer out. Each reservation is handed to an
// Offerer, which rings the counselor's phone in its own goroutine. The
// package never touches sockets. Signalling belongs to the Offerer, which
// package sip implements.
//
// The order of an answer is fixed so that a caller who hangs up while the
// counselor answers never leaves the counselor in a silent call. When the
// counselor's phone answers, the Offerer calls OfferRequest.Confirm before
// bridging any audio. Confirm commits the reservation with
// queue.Store.Connect. If Connect fails because the caller left, Confirm
// returns the error, and the Offerer acknowledges the answer, hangs up the
// counselor leg with BYE and reports CallerGone. Only after Confirm returns
// nil does the Offerer bridge the two legs and report Answered.
//
// A failed offer (no answer, busy, declined, unavailable) cancels the
// reservation and adds the counselor to that caller's tried set, which the
// next Reserve for that caller excludes. When no untried counselor can take
// the caller, the tried set is cleared RetryDelay later and every counselor
// may be offered again. While a caller waits for that retry, the walk goes on
// to the callers behind it, so a counselor who failed one caller can still
// be offered to the next. The walk stops at the first caller for whom no
// counselor at all is free.
//
// Several nodes may share one store. Each node's Distributor, built with
// WithNode, serves only the callers whose call that node holds, and lets a
// more urgent caller of another node go first (see WithNode). Notify wakes
// only the Distributor it is called on, so a node learns of another node's
// changes through queue.NodeStore.Watch, which the program wires to Notify.
//
// The package follows no RFC. SIP status codes appear only in
// OutcomeForStatus, which maps a final response to an OfferOutcome as
// RFC 3261 section 21 defines the codes.
package routing
