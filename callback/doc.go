// Package callback keeps the callback tasks: callers who are to be called
// back instead of waiting on the line.
//
// A task waits in its queue as a queue.Caller of kind callback, with the
// place (priority and EnqueuedAt) of the call it came from, so asking for a
// callback never costs a caller their turn. When the task reaches the front
// and a counselor answers the offer, the signalling layer asks the Manager
// for an attempt, dials the caller and reports the result.
//
// Between attempts the counselor is freed and the task leaves the queue.
// After the configured interval it re-enters with its original place, so it
// is served before callers who joined later. After the configured number of
// attempts the task fails. A caller whose number is withheld cannot be
// called back: the task is stored as failed at once.
//
// Every task and attempt is written through a Store (package records) and
// announced as an event.
package callback
