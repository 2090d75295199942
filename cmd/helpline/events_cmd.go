package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"helpline/events"
	"helpline/records"
)

// Output formats of records events.
const (
	eventsFormatText  = "text"
	eventsFormatJSONL = "jsonl"
)

// listEvents prints the stored events, oldest first.
func listEvents(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("records events", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	configPath := flags.String("config", "", "configuration file (YAML); empty uses the built-in example")
	since := flags.String("since", "", "only events at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00+09:00, or a duration such as 1h)")
	format := flags.String("format", eventsFormatText, "output format: text or jsonl")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("%w: records events: %w", errUsage, err)
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: records events: unexpected argument %q: flags only", errUsage, flags.Arg(0))
	}
	if *format != eventsFormatText && *format != eventsFormatJSONL {
		return fmt.Errorf("%w: --format %q is not supported: use text or jsonl", errUsage, *format)
	}
	sinceTime, err := parseSince(*since, time.Now())
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}

	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	store, err := openRecordsForReading(ctx, *configPath)
	if err != nil {
		return err
	}
	defer store.Close()

	list, err := store.ListEvents(ctx, records.EventListOptions{Since: sinceTime})
	if err != nil {
		return fmt.Errorf("reading events: %w", err)
	}
	return writeEvents(stdout, list, *format)
}

// eventLine is the JSON form of one event.
type eventLine struct {
	Seq         uint64            `json:"seq"`
	At          string            `json:"at"`
	Type        string            `json:"type"`
	CallID      string            `json:"call_id"`
	CounselorID string            `json:"counselor_id"`
	Queue       string            `json:"queue"`
	Data        map[string]string `json:"data"`
}

// writeEvents prints list in format: one JSON object per line, or one
// aligned text line per event.
func writeEvents(w io.Writer, list []events.Event, format string) error {
	out := bufio.NewWriter(w)
	encoder := json.NewEncoder(out)
	for _, e := range list {
		var err error
		if format == eventsFormatJSONL {
			err = encoder.Encode(newEventLine(e))
		} else {
			_, err = fmt.Fprintln(out, eventText(e))
		}
		if err != nil {
			return fmt.Errorf("writing events: %w", err)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing events: %w", err)
	}
	return nil
}

// newEventLine converts e for JSON, with the time in RFC 3339 UTC and an
// empty object for no data.
func newEventLine(e events.Event) eventLine {
	data := e.Data
	if data == nil {
		data = map[string]string{}
	}
	return eventLine{
		Seq:         e.Seq,
		At:          e.At.Local().Format(time.RFC3339Nano),
		Type:        string(e.Type),
		CallID:      e.CallID,
		CounselorID: e.CounselorID,
		Queue:       e.Queue,
		Data:        data,
	}
}

// eventText formats e as one line: sequence number, time, type, then the
// ids and data that are set as key=value, data keys sorted.
func eventText(e events.Event) string {
	fields := []string{
		fmt.Sprintf("%6d", e.Seq),
		e.At.Local().Format("2006-01-02T15:04:05.000Z07:00"),
		fmt.Sprintf("%-18s", e.Type),
	}
	for _, id := range []struct{ key, value string }{
		{"call", e.CallID}, {"counselor", e.CounselorID}, {"queue", e.Queue},
	} {
		if id.value != "" {
			fields = append(fields, id.key+"="+id.value)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(e.Data)) {
		fields = append(fields, key+"="+e.Data[key])
	}
	return strings.TrimRight(strings.Join(fields, " "), " ")
}
