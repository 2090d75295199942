package records

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
)

// outageStore is a real store whose writes fail while failing is set.
type outageStore struct {
	*Store
	failing atomic.Bool
}

func (o *outageStore) Start(ctx context.Context, info StartInfo) error {
	if o.failing.Load() {
		return errDiskFull
	}
	return o.Store.Start(ctx, info)
}

func (o *outageStore) Update(ctx context.Context, callID string, p Patch) error {
	if o.failing.Load() {
		return errDiskFull
	}
	return o.Store.Update(ctx, callID, p)
}

func (o *outageStore) AppendEvents(ctx context.Context, evs []events.Event) error {
	if o.failing.Load() {
		return errDiskFull
	}
	return o.Store.AppendEvents(ctx, evs)
}

const fallbackTestNumber = "010-1234-5678"

// closeDuringOutage holds one call's start, an update and an event in a
// spool whose store fails, then closes it past its deadline and returns
// the fallback file it saved and the spool.
func closeDuringOutage(t *testing.T, target *outageStore, dirs []string, logs *lockedBuffer) (string, *Spool) {
	t.Helper()
	spool := NewSpool(target, SpoolConfig{RetryInterval: 5 * time.Millisecond, Logger: zerolog.New(logs), FallbackDirs: dirs})
	ctx := context.Background()
	target.failing.Store(true)

	if err := spool.Start(ctx, StartInfo{CallID: "held", Source: "10.0.0.1", CallerNumber: fallbackTestNumber}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := spool.Update(ctx, "held", Patch{Digits: strPtr("1")}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := spool.AppendEvents(ctx, []events.Event{{Type: events.CallEnded, CallID: "held", At: time.Now()}}); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}

	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if err := spool.Close(closeCtx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close during the outage error = %v, want DeadlineExceeded", err)
	}
	files, err := FindHeldFiles(dirs)
	if err != nil || len(files) != 1 {
		t.Fatalf("FindHeldFiles = %v, %v; want one file", files, err)
	}
	return files[0], spool
}

func TestSpoolCloseSavesHeldWritesToFile(t *testing.T) {
	target := &outageStore{Store: openStore(t, tempDBPath(t), testKey(t, 1))}
	dir := filepath.Join(t.TempDir(), "held")
	logs := &lockedBuffer{}
	path, spool := closeDuringOutage(t, target, []string{dir}, logs)

	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat fallback file: %v", err)
	}
	if mode := info.Mode().Perm(); mode != heldFileMode {
		t.Errorf("fallback file mode = %o, want %o", mode, heldFileMode)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fallback file: %v", err)
	}
	if bytes.Contains(data, []byte("12345678")) || bytes.Contains(data, []byte("1234-5678")) {
		t.Errorf("fallback file holds the plaintext caller number:\n%s", data)
	}
	if n := bytes.Count(data, []byte("\n")); n != 3 {
		t.Errorf("fallback file has %d lines, want 3 (start, update, events)", n)
	}
	if n := logs.count("records store unavailable at shutdown: waiting up to 0s for it to take the held call records and events before stopping"); n != 1 {
		t.Errorf("%d shutdown wait lines logged, want 1", n)
	}
	if !bytes.Contains([]byte(logs.String()), []byte(filepath.Base(path))) {
		t.Errorf("the log does not name the fallback file %s", path)
	}

	// The saved writes left the spool, so a store that recovers after the
	// shutdown does not get them a second time beside the file.
	target.failing.Store(false)
	if err := spool.Close(context.Background()); err != nil {
		t.Errorf("second Close after the recovery: %v", err)
	}
	if _, err := target.Get(context.Background(), "held"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of the saved call before any replay error = %v, want ErrNotFound", err)
	}
}

func TestReplayHeldFileStoresHeldCall(t *testing.T) {
	target := &outageStore{Store: openStore(t, tempDBPath(t), testKey(t, 1))}
	path, _ := closeDuringOutage(t, target, []string{t.TempDir()}, &lockedBuffer{})
	target.failing.Store(false)
	ctx := context.Background()

	result, err := ReplayHeldFile(ctx, target.Store, path, zerolog.Nop())
	if err != nil {
		t.Fatalf("ReplayHeldFile: %v", err)
	}
	if result.Writes != 3 || result.Rejected != 0 {
		t.Errorf("replay result = %+v, want 3 writes, none rejected", result)
	}
	rec, err := target.Get(ctx, "held")
	if err != nil {
		t.Fatalf("the held call has no record after the replay: %v", err)
	}
	if rec.CallerNumber != fallbackTestNumber || rec.Digits != "1" || rec.Source != "10.0.0.1" {
		t.Errorf("replayed record = %+v, want number, digits 1 and source", rec)
	}
	evs, err := target.ListEvents(ctx, EventListOptions{})
	if err != nil || len(evs) != 1 {
		t.Errorf("stored events = %v, %v; want the one held event", evs, err)
	}
	if _, err := os.Stat(path + ReplayedSuffix); err != nil {
		t.Errorf("replayed file not renamed to %s: %v", ReplayedSuffix, err)
	}
	if files, _ := FindHeldFiles([]string{filepath.Dir(path)}); len(files) != 0 {
		t.Errorf("FindHeldFiles after the replay = %v, want none", files)
	}

	interrupted, err := target.MarkInterruptedCalls(ctx, time.Now())
	if err != nil || len(interrupted) != 1 || interrupted[0].CallID != "held" {
		t.Errorf("MarkInterruptedCalls = %v, %v; want the held call", interrupted, err)
	}
}

func TestReplayHeldFileKeepsRestOnFailure(t *testing.T) {
	target := &outageStore{Store: openStore(t, tempDBPath(t), testKey(t, 1))}
	path, _ := closeDuringOutage(t, target, []string{t.TempDir()}, &lockedBuffer{})
	ctx := context.Background()

	if _, err := ReplayHeldFile(ctx, target, path, zerolog.Nop()); !errors.Is(err, errDiskFull) {
		t.Fatalf("replay into a failing store error = %v, want the store's error", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file of a failed replay is gone: %v", err)
	}

	target.failing.Store(false)
	if _, err := ReplayHeldFile(ctx, target, path, zerolog.Nop()); err != nil {
		t.Fatalf("second replay: %v", err)
	}
	result, err := ReplayHeldFile(ctx, target, path, zerolog.Nop())
	if err == nil {
		t.Errorf("replay of a replayed file = %+v, want an error for the missing file", result)
	}
	evs, err := target.ListEvents(ctx, EventListOptions{})
	if err != nil || len(evs) != 1 {
		t.Errorf("stored events = %d, %v; want 1, no duplicates", len(evs), err)
	}
}

func TestReplayHeldFileRejectsDamagedLine(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	path := filepath.Join(t.TempDir(), heldFilePrefix+"x"+heldFileSuffix)
	if err := os.WriteFile(path, []byte("{\"start\":\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReplayHeldFile(context.Background(), store, path, zerolog.Nop()); !errors.Is(err, ErrHeldFile) {
		t.Errorf("replay of a damaged file error = %v, want ErrHeldFile", err)
	}
}

func TestSpoolCloseWithoutFallbackFolderLogsLoss(t *testing.T) {
	target := &outageStore{Store: openStore(t, tempDBPath(t), testKey(t, 1))}
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	spool := NewSpool(target, SpoolConfig{RetryInterval: 5 * time.Millisecond, Logger: zerolog.New(logs),
		FallbackDirs: []string{filepath.Join(blocked, "sub")}})
	target.failing.Store(true)
	if err := spool.Start(context.Background(), StartInfo{CallID: "a"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_ = spool.Close(ctx)
	if !bytes.Contains([]byte(logs.String()), []byte("saving the held call records to a fallback file failed")) {
		t.Errorf("no loss line when the fallback folder cannot be created:\n%s", logs.String())
	}
}

// String returns everything logged so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// copyFile copies the file at from to to.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("read %s: %v", from, err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", to, err)
	}
}

func TestReplayHeldFileCopyAddsNoEvents(t *testing.T) {
	target := &outageStore{Store: openStore(t, tempDBPath(t), testKey(t, 1))}
	path, _ := closeDuringOutage(t, target, []string{t.TempDir()}, &lockedBuffer{})
	target.failing.Store(false)
	ctx := context.Background()
	copyPath := filepath.Join(t.TempDir(), filepath.Base(path))
	copyFile(t, path, copyPath)

	if _, err := ReplayHeldFile(ctx, target, path, zerolog.Nop()); err != nil {
		t.Fatalf("first replay: %v", err)
	}
	logs := &lockedBuffer{}
	result, err := ReplayHeldFile(ctx, target, copyPath, zerolog.New(logs))
	if err != nil {
		t.Fatalf("replay of a copy: %v", err)
	}
	if result.SkippedEvents != 1 {
		t.Errorf("replay of a copy skipped %d events, want 1", result.SkippedEvents)
	}
	if !strings.Contains(logs.String(), `"skipped_events":1`) {
		t.Errorf("replay of a copy does not log the skipped events:\n%s", logs.String())
	}
	evs, err := target.ListEvents(ctx, EventListOptions{})
	if err != nil || len(evs) != 1 {
		t.Errorf("stored events after two replays = %d, %v; want 1", len(evs), err)
	}
}

func TestReplayHeldFileRejectsReplayedName(t *testing.T) {
	target := &outageStore{Store: openStore(t, tempDBPath(t), testKey(t, 1))}
	path, _ := closeDuringOutage(t, target, []string{t.TempDir()}, &lockedBuffer{})
	target.failing.Store(false)
	ctx := context.Background()

	if _, err := ReplayHeldFile(ctx, target, path, zerolog.Nop()); err != nil {
		t.Fatalf("first replay: %v", err)
	}
	_, err := ReplayHeldFile(ctx, target, path+ReplayedSuffix, zerolog.Nop())
	if !errors.Is(err, ErrHeldFileReplayed) {
		t.Fatalf("replay of %s error = %v, want ErrHeldFileReplayed", ReplayedSuffix, err)
	}
	if !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("error %q does not say the file was already loaded", err)
	}
	evs, err := target.ListEvents(ctx, EventListOptions{})
	if err != nil || len(evs) != 1 {
		t.Errorf("stored events = %d, %v; want 1", len(evs), err)
	}
}

func TestUnstoredEventsKeepsSameKeyEvents(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		at := time.Now()
		event := events.Event{Type: events.CallEnded, CallID: "c", CounselorID: "1002", Queue: "main", At: at}
		if err := store.AppendEvents(ctx, []events.Event{event}); err != nil {
			t.Fatalf("AppendEvents: %v", err)
		}

		other := event
		other.CallID = "d"
		kept, skipped, err := unstoredEvents(ctx, store, []events.Event{event, event, other})
		if err != nil {
			t.Fatalf("unstoredEvents: %v", err)
		}
		if skipped != 1 {
			t.Errorf("skipped = %d, want 1", skipped)
		}
		if len(kept) != 2 || kept[0].CallID != "c" || kept[1].CallID != "d" {
			t.Errorf("kept = %+v, want the second c event and the d event", kept)
		}
	})
}

func TestSpoolCloseLogsWritesAsReplayCounts(t *testing.T) {
	target := &outageStore{Store: openStore(t, tempDBPath(t), testKey(t, 1))}
	dir := t.TempDir()
	logs := &lockedBuffer{}
	spool := NewSpool(target, SpoolConfig{RetryInterval: 5 * time.Millisecond, Logger: zerolog.New(logs), FallbackDirs: []string{dir}})
	ctx := context.Background()
	target.failing.Store(true)

	if err := spool.Start(ctx, StartInfo{CallID: "two", Source: "10.0.0.1"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	now := time.Now()
	pair := []events.Event{{Type: events.CallEnded, CallID: "two", At: now}, {Type: events.CallEnded, CallID: "two", At: now.Add(time.Millisecond)}}
	if err := spool.AppendEvents(ctx, pair); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_ = spool.Close(closeCtx)
	files, err := FindHeldFiles([]string{dir})
	if err != nil || len(files) != 1 {
		t.Fatalf("FindHeldFiles = %v, %v; want one file", files, err)
	}

	target.failing.Store(false)
	result, err := ReplayHeldFile(ctx, target, files[0], zerolog.Nop())
	if err != nil {
		t.Fatalf("ReplayHeldFile: %v", err)
	}
	if result.Writes != 2 {
		t.Errorf("replay counted %d writes, want 2 (a start and a batch of two events)", result.Writes)
	}
	if want := fmt.Sprintf(`"writes":%d`, result.Writes); !strings.Contains(logs.String(), want) {
		t.Errorf("shutdown log does not contain %s:\n%s", want, logs.String())
	}
}

func TestSpoolCloseWarnsOfTempFolder(t *testing.T) {
	target := &outageStore{Store: openStore(t, tempDBPath(t), testKey(t, 1))}
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	temp := t.TempDir()
	if !inTempDir(temp) {
		t.Skipf("t.TempDir %s is outside os.TempDir %s", temp, os.TempDir())
	}
	logs := &lockedBuffer{}
	spool := NewSpool(target, SpoolConfig{RetryInterval: 5 * time.Millisecond, Logger: zerolog.New(logs),
		FallbackDirs: []string{filepath.Join(blocked, "sub"), temp}})
	target.failing.Store(true)
	if err := spool.Start(context.Background(), StartInfo{CallID: "a"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_ = spool.Close(ctx)

	out := logs.String()
	for _, want := range []string{"may be cleared on reboot", "move the file beside the records", "records.spool.fallback_dir"} {
		if !strings.Contains(out, want) {
			t.Errorf("shutdown log does not contain %q:\n%s", want, out)
		}
	}
}

func TestSpoolCloseFirstFolderNoWarning(t *testing.T) {
	target := &outageStore{Store: openStore(t, tempDBPath(t), testKey(t, 1))}
	logs := &lockedBuffer{}
	closeDuringOutage(t, target, []string{t.TempDir(), t.TempDir()}, logs)
	if strings.Contains(logs.String(), "may be cleared on reboot") {
		t.Errorf("a file in the first fallback folder got the temporary folder warning:\n%s", logs.String())
	}
}
