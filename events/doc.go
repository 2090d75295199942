// Package events is the one internal stream of things that happen on the
// line: a caller entered a queue, a phone was offered a call and did not
// answer, a counselor changed state, a callback was attempted. Every part
// of the server publishes to one Bus. Subscribers, such as the records
// store that keeps the history and the live board, read from it.
//
// Publishing never blocks the call that publishes. A subscriber that falls
// behind loses the events its buffer cannot hold and sees a gap in Seq; the
// records store is the complete history.
package events
