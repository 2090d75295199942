package records

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
)

func TestAppendListEventsRoundTrip(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		in := []events.Event{
			{Seq: 41, At: testTime(0), Type: events.CallerEntered, CallID: "call-a", Queue: "general",
				Data: map[string]string{"language": "ko"}},
			{Seq: 42, At: testTime(time.Second), Type: events.Offered, CallID: "call-a", CounselorID: "1001", Queue: "general"},
			{Seq: 43, At: testTime(2 * time.Second), Type: events.CounselorState, CounselorID: "1002",
				Data: map[string]string{"from": "logged_out", "to": "available"}},
		}
		if err := store.AppendEvents(ctx, in); err != nil {
			t.Fatalf("AppendEvents: %v", err)
		}

		got, err := store.ListEvents(ctx, EventListOptions{})
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		if len(got) != len(in) {
			t.Fatalf("ListEvents returned %d events, want %d", len(got), len(in))
		}
		for i, e := range got {
			want := in[i]
			if e.Seq != uint64(i+1) {
				t.Errorf("event %d: Seq = %d, want the row id %d", i, e.Seq, i+1)
			}
			if !e.At.Equal(want.At) || e.At.Location() != time.UTC {
				t.Errorf("event %d: At = %v, want %v in UTC", i, e.At, want.At)
			}
			if e.Type != want.Type || e.CallID != want.CallID || e.CounselorID != want.CounselorID || e.Queue != want.Queue {
				t.Errorf("event %d = %+v, want %+v", i, e, want)
			}
			if fmt.Sprint(e.Data) != fmt.Sprint(want.Data) {
				t.Errorf("event %d: Data = %v, want %v", i, e.Data, want.Data)
			}
		}
	})
}

func TestListEventsSinceKeepsAppendOrder(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		// The second batch has an earlier time than the first (a clock step),
		// and the list still follows the order of appending.
		batches := [][]events.Event{
			{{At: testTime(time.Minute), Type: events.CallerEntered, CallID: "a"}},
			{{At: testTime(0), Type: events.Abandoned, CallID: "early"}},
			{{At: testTime(2 * time.Minute), Type: events.CallEnded, CallID: "a"},
				{At: testTime(3 * time.Minute), Type: events.CallEnded, CallID: "b"}},
		}
		for _, batch := range batches {
			if err := store.AppendEvents(ctx, batch); err != nil {
				t.Fatalf("AppendEvents: %v", err)
			}
		}

		tests := []struct {
			name string
			opts EventListOptions
			want []string
		}{
			{"all", EventListOptions{}, []string{"caller_entered a", "abandoned early", "call_ended a", "call_ended b"}},
			{"since", EventListOptions{Since: testTime(time.Minute)}, []string{"caller_entered a", "call_ended a", "call_ended b"}},
			{"limit", EventListOptions{Limit: 2}, []string{"caller_entered a", "abandoned early"}},
			{"since after all", EventListOptions{Since: testTime(time.Hour)}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := store.ListEvents(ctx, tt.opts)
				if err != nil {
					t.Fatalf("ListEvents: %v", err)
				}
				var names []string
				for _, e := range got {
					names = append(names, string(e.Type)+" "+e.CallID)
				}
				if fmt.Sprint(names) != fmt.Sprint(tt.want) {
					t.Errorf("events = %v, want %v", names, tt.want)
				}
			})
		}
	})
}

func TestAppendEventsRejectsEmptyType(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		batch := []events.Event{{Type: events.Offered, CallID: "a"}, {CallID: "b"}}

		err := store.AppendEvents(ctx, batch)
		if !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("AppendEvents error = %v, want ErrInvalidInput", err)
		}
		got, err := store.ListEvents(ctx, EventListOptions{})
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		if len(got) != 0 {
			t.Errorf("a rejected batch stored %d events, want none", len(got))
		}
	})
}

func TestAppendEventDefaultsTimeToClock(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1), fixedClock(testTime(time.Hour)))
		ctx := context.Background()
		if err := store.AppendEvents(ctx, []events.Event{{Type: events.Offered}}); err != nil {
			t.Fatalf("AppendEvents: %v", err)
		}
		got, err := store.ListEvents(ctx, EventListOptions{})
		if err != nil || len(got) != 1 {
			t.Fatalf("ListEvents = %v, %v; want one event", got, err)
		}
		if !got[0].At.Equal(testTime(time.Hour)) {
			t.Errorf("At = %v, want the store clock %v", got[0].At, testTime(time.Hour))
		}
	})
}

func TestEventsOnClosedStore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store, err := db.open(context.Background(), testKey(t, 1))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := store.AppendEvents(context.Background(), []events.Event{{Type: events.Offered}}); !errors.Is(err, ErrClosed) {
			t.Errorf("AppendEvents after Close = %v, want ErrClosed", err)
		}
		if _, err := store.ListEvents(context.Background(), EventListOptions{}); !errors.Is(err, ErrClosed) {
			t.Errorf("ListEvents after Close = %v, want ErrClosed", err)
		}
	})
}

func TestPersisterStoresEveryEventBeforeClose(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		bus := events.NewBus()
		persister := StartEventPersister(store, bus, zerolog.Nop())

		// More events than one batch, published faster than they are written,
		// so that Close has to drain the buffer.
		const total = 3*maxEventBatch + 7
		for i := range total {
			bus.Publish(events.Event{Type: events.Offered, CallID: fmt.Sprintf("call-%04d", i)})
		}
		ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		defer stop()
		if err := persister.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		bus.Publish(events.Event{Type: events.Offered, CallID: "after-close"})

		got, err := store.ListEvents(context.Background(), EventListOptions{})
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		if len(got) != total {
			t.Fatalf("stored %d events, want %d", len(got), total)
		}
		for i, e := range got {
			if want := fmt.Sprintf("call-%04d", i); e.CallID != want {
				t.Fatalf("event %d has call id %s, want %s: order not kept", i, e.CallID, want)
			}
		}
		if persister.Written() != total || persister.Lost() != 0 {
			t.Errorf("Written() = %d, Lost() = %d; want %d and 0", persister.Written(), persister.Lost(), total)
		}
	})
}

func TestPersisterCountsFailedWrites(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store, err := db.open(context.Background(), testKey(t, 1))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		bus := events.NewBus()
		persister := StartEventPersister(store, bus, zerolog.Nop())
		if err := store.Close(); err != nil {
			t.Fatalf("Close store: %v", err)
		}

		bus.Publish(events.Event{Type: events.Offered, CallID: "a"})
		ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		defer stop()
		if err := persister.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if persister.Lost() != 1 || persister.Written() != 0 {
			t.Errorf("Lost() = %d, Written() = %d; want 1 and 0", persister.Lost(), persister.Written())
		}
	})
}
