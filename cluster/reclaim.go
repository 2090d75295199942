package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"helpline/callback"
	"helpline/counselor"
	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

// SourceNodeStopped is the counselor_state source of a call that ended
// because the node holding it stopped.
const SourceNodeStopped = "node_stopped"

// reclaimReport counts what one reclaim did, for the log and the event.
type reclaimReport struct {
	callers          int
	offersReleased   int
	counselorsFreed  int
	recordsClosed    int
	callbacks        int
	callbacksMoved   int
	withoutNumber    int
	callbackFailures int
}

// empty reports whether the reclaim found nothing at all.
func (r reclaimReport) empty() bool {
	return r.callers == 0 && r.offersReleased == 0 && r.counselorsFreed == 0 && r.recordsClosed == 0
}

// reclaim takes back what node left in the store and the records. Every
// step can run again without harm, so a reclaim that stops halfway is
// finished by the next one:
//
//  1. ReclaimNode removes node's waiting callers and releases its offers.
//  2. FinishCall moves each counselor on one of node's calls to wrap-up.
//  3. node's callback tasks that were waiting in the queue move to this
//     node.
//  4. MarkNodeInterrupted closes node's open records.
//  5. Each interrupted caller with a number gets a callback task whose ID
//     derives from the call ID, so a repeat creates no second task.
//
// NOTE: a reclaim that stops between steps 1 and 3 leaves the queued
// callback tasks open in the records only. One that stops between steps 4
// and 5 leaves the interrupted callers without a callback task.
func (w *Watchdog) reclaim(ctx context.Context, node string) (reclaimReport, error) {
	now := w.now()
	var report reclaimReport

	callCtx, stop := context.WithTimeout(ctx, storeTimeout)
	taken, err := w.store.ReclaimNode(callCtx, node, now)
	stop()
	if err != nil {
		return report, fmt.Errorf("taking back the node's callers and offers: %w", err)
	}
	report.callers = len(taken.Callers)
	report.offersReleased = len(taken.Released)
	for _, id := range taken.Released {
		w.log.Info().Str("stopped_node", node).Str("counselor_id", id).Msg("offer of the stopped node cancelled")
	}
	report.counselorsFreed = w.finishCalls(ctx, node, taken.OnCall)
	w.moveCallbackTasks(ctx, node, taken.Callers, &report)

	if err := w.interruptCalls(ctx, node, taken.Callers, &report); err != nil {
		return report, err
	}

	w.announce(node, report)
	if report.counselorsFreed > 0 || report.offersReleased > 0 {
		w.notify()
	}
	return report, nil
}

// finishCalls ends the calls that node held for each counselor in onCall,
// so that they enter their wrap-up, and returns how many it ended.
func (w *Watchdog) finishCalls(ctx context.Context, node string, onCall []string) int {
	freed := 0
	for _, id := range onCall {
		now := w.now()
		callCtx, stop := context.WithTimeout(ctx, storeTimeout)
		err := w.store.FinishCall(callCtx, id, now.Add(w.wrapUp(id)), now)
		var after queue.Counselor
		if err == nil {
			after, err = w.store.Counselor(callCtx, id)
		}
		stop()

		log := w.log.With().Str("stopped_node", node).Str("counselor_id", id).Logger()
		switch {
		case errors.Is(err, queue.ErrInvalidTransition):
			log.Debug().Err(err).Msg("counselor's call ended already")
		case err != nil:
			log.Error().Err(err).Msg("ending the counselor's call of the stopped node failed: the counselor stays on_call")
		default:
			freed++
			counselor.Publish(w.events, id, queue.StateOnCall, after.State, after.Reason, SourceNodeStopped)
			log.Warn().Str("to", string(after.State)).Msg("counselor's call was cut off by the stopped node")
		}
	}
	return freed
}

// interruptCalls closes node's open records and creates a callback task for
// each interrupted caller with a number: whether the caller was in the IVR,
// waiting or talking to a counselor, the conversation was cut off and
// somebody must call back.
func (w *Watchdog) interruptCalls(ctx context.Context, node string, taken []queue.Caller, report *reclaimReport) error {
	if w.records == nil {
		return nil
	}
	callCtx, stop := context.WithTimeout(ctx, storeTimeout)
	closed, err := w.records.MarkNodeInterrupted(callCtx, node, w.now())
	stop()
	if err != nil {
		return fmt.Errorf("closing the node's call records: %w", err)
	}
	report.recordsClosed = len(closed)

	waiting := make(map[string]queue.Caller, len(taken))
	for _, c := range taken {
		if !c.IsCallback() {
			waiting[c.CallID] = c
		}
	}
	for _, call := range closed {
		caller, inQueue := waiting[call.CallID]
		if call.Queue == "" && !inQueue {
			// Cut off in the IVR: the task waits in the first queue.
			call.Queue = w.defaultQueue
		}
		w.createCallback(ctx, node, call, caller, inQueue, report)
	}
	return nil
}

// createCallback creates the callback task of one interrupted caller, at
// the caller's place when the queue entry is known.
func (w *Watchdog) createCallback(ctx context.Context, node string, call InterruptedCall, caller queue.Caller, inQueue bool, report *reclaimReport) {
	log := w.log.With().Str("stopped_node", node).Str("call_id", call.CallID).Logger()
	if call.Withheld || call.Number == "" {
		report.withoutNumber++
		log.Warn().Msg("caller cut off by the stopped node has no number to call back")
		return
	}
	if w.callbacks == nil {
		log.Warn().Msg("caller cut off by the stopped node, and callbacks are off")
		return
	}

	req := callback.Request{
		TaskID: callback.TaskIDForCall(call.CallID), CallID: call.CallID, Queue: call.Queue,
		Number: call.Number, Reason: callback.ReasonInterrupted, EnqueuedAt: call.QueuedAt,
	}
	if inQueue {
		req.Queue, req.Priority, req.EnqueuedAt, req.Attributes = caller.Queue, caller.Priority, caller.EnqueuedAt, caller.Attributes
	}
	callCtx, stop := context.WithTimeout(ctx, storeTimeout)
	_, err := w.callbacks.Create(callCtx, req)
	stop()
	if err != nil {
		report.callbackFailures++
		log.Error().Err(err).Msg("creating the callback task of a caller cut off by the stopped node failed")
		return
	}
	report.callbacks++
}

// moveCallbackTasks takes over node's callback tasks that were waiting in
// the queue: their open records are restored into this node's callbacks.
func (w *Watchdog) moveCallbackTasks(ctx context.Context, node string, taken []queue.Caller, report *reclaimReport) {
	ids := make(map[string]bool)
	for _, c := range taken {
		if c.IsCallback() {
			ids[c.CallID] = true
		}
	}
	if len(ids) == 0 {
		return
	}
	log := w.log.With().Str("stopped_node", node).Logger()
	if w.records == nil || w.callbacks == nil {
		log.Warn().Int("tasks", len(ids)).Msg("callback tasks of the stopped node left the queue and cannot be taken over here")
		return
	}

	callCtx, stop := context.WithTimeout(ctx, storeTimeout)
	defer stop()
	open, err := w.records.ListOpenCallbacks(callCtx)
	if err != nil {
		log.Error().Err(err).Int("tasks", len(ids)).Msg("reading the stopped node's callback tasks failed: they stay open in the records only")
		return
	}
	var moving []records.Callback
	for _, cb := range open {
		if ids[cb.TaskID] {
			moving = append(moving, cb)
		}
	}
	report.callbacksMoved = w.callbacks.Restore(callCtx, moving)
}

// announce logs and publishes what a reclaim did. A start-up reclaim of
// this node that found nothing stays silent.
func (w *Watchdog) announce(node string, r reclaimReport) {
	if node == w.node && r.empty() {
		return
	}
	w.log.Warn().Str("stopped_node", node).Int("callers", r.callers).Int("offers_released", r.offersReleased).
		Int("counselors_freed", r.counselorsFreed).Int("records_closed", r.recordsClosed).
		Int("callbacks", r.callbacks).Int("callbacks_moved", r.callbacksMoved).
		Int("callers_without_number", r.withoutNumber).Int("callback_failures", r.callbackFailures).
		Msg("reclaimed a stopped node")
	w.events.Publish(events.Event{Type: events.NodeStopped, Data: map[string]string{
		"node":                   node,
		"by":                     w.node,
		"callers":                strconv.Itoa(r.callers),
		"offers_released":        strconv.Itoa(r.offersReleased),
		"counselors_freed":       strconv.Itoa(r.counselorsFreed),
		"records_closed":         strconv.Itoa(r.recordsClosed),
		"callbacks":              strconv.Itoa(r.callbacks),
		"callbacks_moved":        strconv.Itoa(r.callbacksMoved),
		"callers_without_number": strconv.Itoa(r.withoutNumber),
	}})
}
