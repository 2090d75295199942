package records

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
)

// errDiskFull stands for the error a full or read-only records folder
// gives.
var errDiskFull = errors.New("database or disk is full (13)")

// fakeTarget is an in-memory SpoolTarget whose writes fail while failing
// is set. It logs every stored write in order.
type fakeTarget struct {
	mu sync.Mutex
	// failing is the error every write returns, nil while the store works.
	failing error
	// commitThenFail makes the next Start store the record and still
	// return failing, as a commit whose response was lost would.
	commitThenFail bool
	records        map[string]Record
	stored         []string
	events         []events.Event
}

func newFakeTarget() *fakeTarget {
	return &fakeTarget{records: make(map[string]Record)}
}

func (f *fakeTarget) setFailing(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = err
}

func (f *fakeTarget) Start(_ context.Context, info StartInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing != nil && !f.commitThenFail {
		return f.failing
	}
	if _, ok := f.records[info.CallID]; ok {
		return fmt.Errorf("start call record %s: %w", info.CallID, ErrDuplicate)
	}
	f.records[info.CallID] = Record{CallID: info.CallID, Source: info.Source, StartedAt: info.StartedAt}
	f.stored = append(f.stored, "start "+info.CallID)
	if f.commitThenFail {
		f.commitThenFail = false
		return f.failing
	}
	return nil
}

func (f *fakeTarget) Update(_ context.Context, callID string, p Patch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing != nil {
		return f.failing
	}
	rec, ok := f.records[callID]
	if !ok {
		return fmt.Errorf("update call record %s: %w", callID, ErrNotFound)
	}
	if p.Digits != nil {
		rec.Digits = *p.Digits
	}
	if p.EndedAt != nil {
		rec.EndedAt = *p.EndedAt
	}
	f.records[callID] = rec
	f.stored = append(f.stored, "update "+callID)
	return nil
}

func (f *fakeTarget) AppendEvents(_ context.Context, evs []events.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing != nil {
		return f.failing
	}
	for _, e := range evs {
		f.events = append(f.events, e)
		f.stored = append(f.stored, "event "+e.CallID)
	}
	return nil
}

func (f *fakeTarget) Get(_ context.Context, callID string) (Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[callID]
	if !ok {
		return Record{}, ErrNotFound
	}
	return rec, nil
}

func (f *fakeTarget) storedWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.stored...)
}

// lockedBuffer is a log sink safe for the spool's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many log lines have message.
func (b *lockedBuffer) count(message string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(fmt.Sprint(entry["message"]), message) {
			n++
		}
	}
	return n
}

// recordingPublisher keeps the published events.
type recordingPublisher struct {
	mu     sync.Mutex
	events []events.Event
}

func (p *recordingPublisher) Publish(e events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

func (p *recordingPublisher) types() []events.Type {
	p.mu.Lock()
	defer p.mu.Unlock()
	var types []events.Type
	for _, e := range p.events {
		types = append(types, e.Type)
	}
	return types
}

// spoolHarness is a running spool in front of a fake target.
type spoolHarness struct {
	spool   *Spool
	target  *fakeTarget
	logs    *lockedBuffer
	events  *recordingPublisher
	stopRun context.CancelFunc
}

func newSpoolHarness(t *testing.T, maxRecords int) *spoolHarness {
	t.Helper()
	h := &spoolHarness{target: newFakeTarget(), logs: &lockedBuffer{}, events: &recordingPublisher{}}
	h.spool = NewSpool(h.target, SpoolConfig{
		MaxRecords:    maxRecords,
		RetryInterval: 5 * time.Millisecond,
		Location:      "/srv/helpline/data",
		Fix:           "make the folder writable",
		Logger:        zerolog.New(h.logs),
		Events:        h.events,
	})
	ctx, stop := context.WithCancel(context.Background())
	h.stopRun = stop
	go h.spool.Run(ctx)
	t.Cleanup(func() {
		stop()
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = h.spool.Close(closeCtx)
	})
	return h
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func strPtr(s string) *string { return &s }

func TestSpoolWritesThroughWhileStoreWorks(t *testing.T) {
	h := newSpoolHarness(t, 10)
	ctx := context.Background()

	if err := h.spool.Start(ctx, StartInfo{CallID: "a", Source: "127.0.0.1"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := h.spool.Start(ctx, StartInfo{CallID: "a"}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second Start error = %v, want ErrDuplicate", err)
	}
	if err := h.spool.Update(ctx, "missing", Patch{Digits: strPtr("5")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update of a missing record error = %v, want ErrNotFound", err)
	}
	if got := h.target.storedWrites(); len(got) != 1 || got[0] != "start a" {
		t.Errorf("stored writes = %v, want [start a]", got)
	}
	if stats := h.spool.Stats(); stats.Unavailable || stats.Depth != 0 || stats.Held != 0 {
		t.Errorf("stats = %+v, want available and empty", stats)
	}
}

func TestSpoolRejectsInvalidInputAtOnce(t *testing.T) {
	h := newSpoolHarness(t, 10)
	h.target.setFailing(errDiskFull)
	ctx := context.Background()

	bad := Outcome("lost")
	if err := h.spool.Update(ctx, "a", Patch{Outcome: &bad}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Update with an unknown outcome error = %v, want ErrInvalidInput", err)
	}
	if err := h.spool.Start(ctx, StartInfo{}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Start without a call id error = %v, want ErrInvalidInput", err)
	}
	if err := h.spool.AppendEvents(ctx, []events.Event{{CallID: "a"}}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("AppendEvents without a type error = %v, want ErrInvalidInput", err)
	}
	if stats := h.spool.Stats(); stats.Depth != 0 || stats.Unavailable {
		t.Errorf("stats = %+v, want nothing held", stats)
	}
}

func TestSpoolWritesBackInOrder(t *testing.T) {
	h := newSpoolHarness(t, 100)
	ctx := context.Background()
	h.target.setFailing(errDiskFull)

	ended := time.Unix(1700000000, 0)
	writes := []func() error{
		func() error { return h.spool.Start(ctx, StartInfo{CallID: "a"}) },
		func() error {
			return h.spool.AppendEvents(ctx, []events.Event{{Type: events.CallerEntered, CallID: "a"}})
		},
		func() error { return h.spool.Start(ctx, StartInfo{CallID: "b"}) },
		func() error { return h.spool.Update(ctx, "a", Patch{Digits: strPtr("51")}) },
		func() error { return h.spool.Update(ctx, "a", Patch{EndedAt: &ended}) },
		func() error { return h.spool.Update(ctx, "b", Patch{Digits: strPtr("9")}) },
	}
	for i, write := range writes {
		if err := write(); err != nil {
			t.Fatalf("write %d during the outage: %v, want nil (held)", i, err)
		}
	}

	stats := h.spool.Stats()
	if !stats.Unavailable || stats.Depth != len(writes) || !errors.Is(stats.LastError, errDiskFull) {
		t.Errorf("stats during the outage = %+v, want unavailable with %d held", stats, len(writes))
	}
	if n := h.logs.count("records store unavailable"); n != 1 {
		t.Errorf("%d outage lines logged, want 1 for the whole outage", n)
	}
	if got := h.target.storedWrites(); len(got) != 0 {
		t.Errorf("stored during the outage: %v, want nothing", got)
	}

	h.target.setFailing(nil)
	waitFor(t, "the held records to be written", func() bool { return !h.spool.Stats().Unavailable })

	want := []string{"start a", "event a", "start b", "update a", "update a", "update b"}
	if got := h.target.storedWrites(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("stored writes = %v, want %v in that order", got, want)
	}
	rec, _ := h.target.Get(ctx, "a")
	if rec.Digits != "51" || !rec.EndedAt.Equal(ended) {
		t.Errorf("record a = %+v, want digits 51 and the end time", rec)
	}
	if n := h.logs.count("records store works again"); n != 1 {
		t.Errorf("%d recovery lines logged, want 1", n)
	}
	types := h.events.types()
	if len(types) != 2 || types[0] != events.RecordsUnavailable || types[1] != events.RecordsRecovered {
		t.Errorf("published events = %v, want records_unavailable then records_recovered", types)
	}
	if stats := h.spool.Stats(); stats.Depth != 0 || stats.Held != uint64(len(writes)) || stats.Dropped != 0 {
		t.Errorf("stats after the outage = %+v, want empty, %d held in all, none dropped", stats, len(writes))
	}

	// Writes after the recovery go to the store at once.
	if err := h.spool.Update(ctx, "b", Patch{EndedAt: &ended}); err != nil {
		t.Fatalf("Update after the recovery: %v", err)
	}
	if got := h.target.storedWrites(); got[len(got)-1] != "update b" {
		t.Errorf("last stored write = %q, want update b", got[len(got)-1])
	}
}

func TestSpoolKeepsStartTimeOfHeldCall(t *testing.T) {
	h := newSpoolHarness(t, 10)
	started := time.Unix(1700000000, 0)
	h.spool.now = func() time.Time { return started }
	h.target.setFailing(errDiskFull)

	if err := h.spool.Start(context.Background(), StartInfo{CallID: "a"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h.target.setFailing(nil)
	waitFor(t, "the held start", func() bool { return !h.spool.Stats().Unavailable })

	rec, err := h.target.Get(context.Background(), "a")
	if err != nil || !rec.StartedAt.Equal(started) {
		t.Errorf("record a = %+v, %v; want the time the call came, %s", rec, err, started)
	}
}

func TestSpoolFullDropsNewestOnce(t *testing.T) {
	h := newSpoolHarness(t, 3)
	ctx := context.Background()
	h.target.setFailing(errDiskFull)

	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if err := h.spool.Start(ctx, StartInfo{CallID: id}); err != nil {
			t.Fatalf("Start %s: %v", id, err)
		}
	}
	stats := h.spool.Stats()
	if stats.Depth != 3 || stats.Dropped != 2 {
		t.Errorf("stats = %+v, want 3 held and 2 dropped", stats)
	}
	if n := h.logs.count("records spool full"); n != 1 {
		t.Errorf("%d spool-full lines logged, want 1", n)
	}

	h.target.setFailing(nil)
	waitFor(t, "the recovery", func() bool { return !h.spool.Stats().Unavailable })
	want := "start a,start b,start c"
	if got := strings.Join(h.target.storedWrites(), ","); got != want {
		t.Errorf("stored writes = %s, want the oldest three: %s", got, want)
	}
}

func TestSpoolRenamesHeldCallWhoseIDIsTaken(t *testing.T) {
	h := newSpoolHarness(t, 10)
	ctx := context.Background()
	if err := h.spool.Start(ctx, StartInfo{CallID: "a", Source: "10.0.0.1", StartedAt: time.Unix(1, 0)}); err != nil {
		t.Fatalf("first Start: %v", err)
	}

	h.target.setFailing(errDiskFull)
	if err := h.spool.Start(ctx, StartInfo{CallID: "a", Source: "10.0.0.2"}); err != nil {
		t.Fatalf("held Start with a reused id: %v", err)
	}
	if err := h.spool.Update(ctx, "a", Patch{Digits: strPtr("5")}); err != nil {
		t.Fatalf("held Update: %v", err)
	}
	h.target.setFailing(nil)
	waitFor(t, "the recovery", func() bool { return !h.spool.Stats().Unavailable })

	if err := h.spool.Update(ctx, "a", Patch{Digits: strPtr("51")}); err != nil {
		t.Fatalf("Update after the recovery: %v", err)
	}
	first, _ := h.target.Get(ctx, "a")
	second, err := h.target.Get(ctx, "a~2")
	if err != nil {
		t.Fatalf("the held call has no record a~2: %v", err)
	}
	if first.Digits != "" || first.Source != "10.0.0.1" {
		t.Errorf("earlier record a = %+v, want it untouched", first)
	}
	if second.Digits != "51" || second.Source != "10.0.0.2" {
		t.Errorf("record a~2 = %+v, want the held call's updates", second)
	}
}

func TestSpoolStoresRetriedStartOnce(t *testing.T) {
	h := newSpoolHarness(t, 10)
	ctx := context.Background()
	h.target.setFailing(errDiskFull)
	h.target.commitThenFail = true

	if err := h.spool.Start(ctx, StartInfo{CallID: "a", Source: "10.0.0.1"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h.target.setFailing(nil)
	waitFor(t, "the recovery", func() bool { return !h.spool.Stats().Unavailable })

	if got := h.target.storedWrites(); len(got) != 1 {
		t.Errorf("stored writes = %v, want the one start", got)
	}
	if _, err := h.target.Get(ctx, "a~2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a retried start made a second record a~2")
	}
}

func TestSpoolCloseWritesHeldRecords(t *testing.T) {
	h := newSpoolHarness(t, 10)
	h.target.setFailing(errDiskFull)
	if err := h.spool.Start(context.Background(), StartInfo{CallID: "a"}); err != nil {
		t.Fatalf("Start: %v", err)
	}

	// The outage outlasts the shutdown deadline: the held record is lost
	// and Close returns the deadline error.
	h.stopRun()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := h.spool.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close during the outage error = %v, want DeadlineExceeded", err)
	}
	if n := h.logs.count("records store still unavailable at shutdown"); n != 1 {
		t.Errorf("%d shutdown loss lines logged, want 1", n)
	}

	h.target.setFailing(nil)
	if err := h.spool.Close(context.Background()); err != nil {
		t.Errorf("Close after the recovery: %v", err)
	}
	if got := h.target.storedWrites(); len(got) != 1 || got[0] != "start a" {
		t.Errorf("stored writes = %v, want [start a]", got)
	}
}

func TestSpoolWithSQLiteStore(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	spool := NewSpool(store, SpoolConfig{RetryInterval: 5 * time.Millisecond})
	ctx := context.Background()

	if err := spool.Start(ctx, StartInfo{CallID: "a", CallerNumber: "010-1234-5678"}); err != nil {
		t.Fatalf("Start through the spool: %v", err)
	}
	if err := spool.Start(ctx, StartInfo{CallID: "a"}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate Start error = %v, want ErrDuplicate", err)
	}
	if err := spool.AppendEvents(ctx, []events.Event{{Type: events.CallEnded, CallID: "a", At: time.Now()}}); err != nil {
		t.Fatalf("AppendEvents through the spool: %v", err)
	}
	rec, err := store.Get(ctx, "a")
	if err != nil || rec.CallerNumber != "010-1234-5678" {
		t.Errorf("stored record = %+v, %v; want the number", rec, err)
	}
	if err := spool.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestSpoolHeldPatchKeepsItsValues(t *testing.T) {
	h := newSpoolHarness(t, 10)
	ctx := context.Background()
	if err := h.spool.Start(ctx, StartInfo{CallID: "a"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h.target.setFailing(errDiskFull)

	digits := "5"
	if err := h.spool.Update(ctx, "a", Patch{Digits: &digits}); err != nil {
		t.Fatalf("held Update: %v", err)
	}
	digits = "9"
	h.target.setFailing(nil)
	waitFor(t, "the recovery", func() bool { return !h.spool.Stats().Unavailable })

	if rec, _ := h.target.Get(ctx, "a"); rec.Digits != "5" {
		t.Errorf("digits = %q, want the held value 5, not the caller's later 9", rec.Digits)
	}
}

// A field added to Patch but not to clone would be lost from held
// updates: this test sets every field and checks the copy.
func TestPatchCloneCopiesEveryField(t *testing.T) {
	var p Patch
	value := reflect.ValueOf(&p).Elem()
	for i := range value.NumField() {
		field := value.Field(i)
		if field.Kind() != reflect.Pointer {
			t.Fatalf("Patch.%s is a %s, want a pointer", value.Type().Field(i).Name, field.Kind())
		}
		field.Set(reflect.New(field.Type().Elem()))
	}

	copied := reflect.ValueOf(p.clone())
	for i := range value.NumField() {
		name := value.Type().Field(i).Name
		if copied.Field(i).IsNil() {
			t.Errorf("clone drops Patch.%s", name)
			continue
		}
		if copied.Field(i).Pointer() == value.Field(i).Pointer() {
			t.Errorf("clone shares the pointer of Patch.%s", name)
		}
	}
}
