package cluster

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/events"
	"helpline/internal/redistest"
)

func TestEventStreamAddsEvents(t *testing.T) {
	srv := redistest.Start(t)
	client, err := NewRedisClient(config.Redis{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatalf("NewRedisClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })

	bus := events.NewBus()
	stream := StartEventStream(client, bus, thisNode, zerolog.New(zerolog.NewTestWriter(t)))
	bus.Publish(events.Event{Type: events.CallerEntered, CallID: "call-1", Queue: testQueue, Data: map[string]string{"language": "ko"}})
	bus.Publish(events.Event{Type: events.Connected, CallID: "call-1", CounselorID: "1001", Queue: testQueue})
	ctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	if err := stream.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	entries, err := client.XRange(t.Context(), StreamKey, "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE: %v", err)
	}
	if len(entries) != 2 {
		t.Fatalf("stream has %d entries, want 2", len(entries))
	}
	var first streamEvent
	body, _ := entries[0].Values["event"].(string)
	if err := json.Unmarshal([]byte(body), &first); err != nil {
		t.Fatalf("entry %q is not JSON: %v", body, err)
	}
	if first.Node != thisNode || first.Type != events.CallerEntered || first.Seq != 1 {
		t.Errorf("first entry = node %q type %q seq %d, want %s caller_entered 1", first.Node, first.Type, first.Seq, thisNode)
	}
	if first.CallID != "call-1" || first.Queue != testQueue || first.Data["language"] != "ko" || first.At.IsZero() {
		t.Errorf("first entry = %+v, want call-1 in %s with language ko and a time", first, testQueue)
	}
}

func TestEventStreamSurvivesRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	client, err := NewRedisClient(config.Redis{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatalf("NewRedisClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	srv.Kill()

	bus := events.NewBus()
	stream := StartEventStream(client, bus, thisNode, zerolog.New(zerolog.NewTestWriter(t)))
	bus.Publish(events.Event{Type: events.CallerEntered, CallID: "call-1"})
	ctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	if err := stream.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := stream.lost.Load(); got != 1 {
		t.Errorf("lost events = %d, want 1", got)
	}
}
