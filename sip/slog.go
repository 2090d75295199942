package sip

import (
	"context"
	"log/slog"
	"time"

	"github.com/rs/zerolog"
)

// sipgoLogLevel is the least severe sipgo message passed on. sipgo's debug
// and info messages print whole SIP messages, which carry callers' numbers.
const sipgoLogLevel = slog.LevelWarn

// peerLogInterval bounds each sipgo message in peerTriggeredMessages to
// one line per interval.
const peerLogInterval = time.Second

// peerTriggeredMessages are sipgo v1.7.3 log messages that any peer can
// cause at will, one line per bad message: a TCP message that does not
// parse, and a request without the headers of a transaction.
var peerTriggeredMessages = []string{"failed to parse", "Server tx failed to handle request"}

// slogBridge routes sipgo's slog output into the server's zerolog logger,
// dropping attributes that hold whole SIP messages. The messages in
// peerTriggeredMessages pass once per peerLogInterval each, with the
// count of the lines held back since in "suppressed".
type slogBridge struct {
	next slog.Handler
	// gates limits each peer-triggered message. The map is not changed
	// after newSlogBridge, and copies of the bridge share it.
	gates map[string]*logGate
}

func newSlogBridge(log zerolog.Logger) slog.Handler {
	gates := make(map[string]*logGate, len(peerTriggeredMessages))
	for _, message := range peerTriggeredMessages {
		gates[message] = &logGate{interval: peerLogInterval}
	}
	return &slogBridge{next: zerolog.NewSlogHandler(log.With().Str("component", "sipgo").Logger()), gates: gates}
}

// messageAttrs are sipgo attribute keys whose values are SIP messages or
// request lines.
var messageAttrs = map[string]bool{"msg": true, "req": true, "res": true, "request": true, "response": true, "data": true}

func (b *slogBridge) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= sipgoLogLevel && b.next.Enabled(ctx, level)
}

func (b *slogBridge) Handle(ctx context.Context, r slog.Record) error {
	clean := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if gate, ok := b.gates[r.Message]; ok {
		suppressed, allowed := gate.allow(r.Time)
		if !allowed {
			return nil
		}
		clean.AddAttrs(slog.Int("suppressed", suppressed))
	}
	r.Attrs(func(a slog.Attr) bool {
		if !messageAttrs[a.Key] {
			clean.AddAttrs(a)
		}
		return true
	})
	return b.next.Handle(ctx, clean)
}

func (b *slogBridge) WithAttrs(attrs []slog.Attr) slog.Handler {
	kept := attrs[:0:0]
	for _, a := range attrs {
		if !messageAttrs[a.Key] {
			kept = append(kept, a)
		}
	}
	return &slogBridge{next: b.next.WithAttrs(kept), gates: b.gates}
}

func (b *slogBridge) WithGroup(name string) slog.Handler {
	return &slogBridge{next: b.next.WithGroup(name), gates: b.gates}
}
