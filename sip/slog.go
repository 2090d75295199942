package sip

import (
	"context"
	"log/slog"

	"github.com/rs/zerolog"
)

// sipgoLogLevel is the least severe sipgo message passed on. sipgo's debug
// and info messages print whole SIP messages, which carry callers' numbers.
const sipgoLogLevel = slog.LevelWarn

// slogBridge routes sipgo's slog output into the server's zerolog logger,
// dropping attributes that hold whole SIP messages.
type slogBridge struct {
	next slog.Handler
}

func newSlogBridge(log zerolog.Logger) slog.Handler {
	return &slogBridge{next: zerolog.NewSlogHandler(log.With().Str("component", "sipgo").Logger())}
}

// messageAttrs are sipgo attribute keys whose values are SIP messages or
// request lines.
var messageAttrs = map[string]bool{"msg": true, "req": true, "res": true, "request": true, "response": true, "data": true}

func (b *slogBridge) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= sipgoLogLevel && b.next.Enabled(ctx, level)
}

func (b *slogBridge) Handle(ctx context.Context, r slog.Record) error {
	clean := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
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
	return &slogBridge{next: b.next.WithAttrs(kept)}
}

func (b *slogBridge) WithGroup(name string) slog.Handler {
	return &slogBridge{next: b.next.WithGroup(name)}
}
