// Package counselor changes counselor states on request. A counselor logs
// in, logs out, takes a break or ends a wrap-up with a softphone feature
// code or through the HTTP API, and the end of a phone's last registration
// logs the counselor out.
//
// Registration and login are separate. A registered softphone only makes
// the counselor reachable. A counselor takes calls after logging in (the
// login feature code or the API), and a login needs a registered phone.
// When the last registration of a phone ends, the counselor is logged out,
// after the call in progress if there is one.
//
// Every change this package makes is published as an events.CounselorState
// event with Data["from"], Data["to"], Data["reason"] and Data["source"],
// and wakes the distributors, so that a counselor who became available gets
// the next caller at once. The state itself lives in a queue.Store.
package counselor
