package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"helpline/records"
)

// callbackLine is one callback task in the output of records callbacks.
type callbackLine struct {
	TaskID     string        `json:"task_id"`
	CallID     string        `json:"call_id"`
	Queue      string        `json:"queue"`
	Reason     string        `json:"reason"`
	State      string        `json:"state"`
	Number     string        `json:"number"`
	Withheld   bool          `json:"number_withheld"`
	Priority   int           `json:"priority"`
	EnqueuedAt time.Time     `json:"enqueued_at"`
	CreatedAt  time.Time     `json:"created_at"`
	EndedAt    *time.Time    `json:"ended_at,omitempty"`
	EndReason  string        `json:"end_reason,omitempty"`
	Attempts   []attemptLine `json:"attempts"`
}

// attemptLine is one dialling attempt of a task.
type attemptLine struct {
	Attempt   int        `json:"attempt"`
	Counselor string     `json:"counselor"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	SIPStatus int        `json:"sip_status"`
	Outcome   string     `json:"outcome"`
}

// exportCallbacks prints every callback task with its attempts, one JSON
// object a line.
func exportCallbacks(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("records callbacks", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	configPath := flags.String("config", "", "configuration file (YAML); empty uses the built-in example")
	reveal := flags.Bool("reveal", false, "print full numbers instead of masked ones")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("%w: records callbacks: %w", errUsage, err)
	}

	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	store, err := openRecordsForReading(ctx, *configPath)
	if err != nil {
		return err
	}
	defer store.Close()

	tasks, err := store.ListCallbacks(ctx)
	if err != nil {
		return fmt.Errorf("reading callback tasks: %w", err)
	}
	if *reveal {
		if err := auditReveal(ctx, store, "records callbacks", len(tasks)); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	for _, cb := range tasks {
		if err := enc.Encode(newCallbackLine(cb, *reveal)); err != nil {
			return fmt.Errorf("writing callback tasks: %w", err)
		}
	}
	return nil
}

func newCallbackLine(cb records.Callback, reveal bool) callbackLine {
	line := callbackLine{
		TaskID: cb.TaskID, CallID: cb.CallID, Queue: cb.Queue, Reason: cb.Reason, State: string(cb.State),
		Number: records.MaskNumber(cb.Number), Withheld: cb.NumberWithheld, Priority: cb.Priority,
		EnqueuedAt: cb.EnqueuedAt.Local(), CreatedAt: cb.CreatedAt.Local(), EndedAt: optionalTime(cb.EndedAt), EndReason: cb.EndReason,
		Attempts: make([]attemptLine, 0, len(cb.Attempts)),
	}
	if reveal {
		line.Number = cb.Number
	}
	for _, a := range cb.Attempts {
		line.Attempts = append(line.Attempts, attemptLine{
			Attempt: a.Attempt, Counselor: a.Counselor, StartedAt: a.StartedAt.Local(), EndedAt: optionalTime(a.EndedAt),
			SIPStatus: a.SIPStatus, Outcome: a.Outcome,
		})
	}
	return line
}

// optionalTime returns nil for the zero time, so JSON leaves it out, and
// else t in the local time zone.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	local := t.Local()
	return &local
}
