// Package counselor changes counselor states on request: a login, a logout
// or a break from a counselor's softphone feature code or from the HTTP
// API, the end of a wrap-up, and the logout that follows when a phone's
// last registration ends.
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
