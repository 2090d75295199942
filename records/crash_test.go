package records

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

const (
	// crashDBEnv passes the database path to the crashing child process.
	crashDBEnv = "HELPLINE_RECORDS_TEST_CRASH_DB"
	// crashExitCode is how the child reports that it wrote everything and
	// then exited without closing the store.
	crashExitCode = 3
)

// TestCrashChildProcess is the body of the child process that
// TestCrashLeavesTrace starts. Run directly, it does nothing.
func TestCrashChildProcess(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		t.Skip("runs only as the child of TestCrashLeavesTrace")
	}

	store, err := Open(context.Background(), path, testKey(t, 1))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := context.Background()
	calls := []StartInfo{
		{CallID: "open-call", CallerNumber: "01012345678", StartedAt: testTime(0)},
		{CallID: "ended-call", CallerNumber: "01087654321", StartedAt: testTime(time.Second)},
	}
	for _, info := range calls {
		if err := store.Start(ctx, info); err != nil {
			t.Fatalf("Start %s: %v", info.CallID, err)
		}
	}
	if err := store.Update(ctx, "open-call", Patch{QueuedAt: new(testTime(time.Minute)), Queue: new("general")}); err != nil {
		t.Fatalf("Update open-call: %v", err)
	}
	ended := Patch{EndedAt: new(testTime(2 * time.Minute)), Outcome: new(OutcomeAbandonedInIVR), HangupSide: new(SideCaller)}
	if err := store.Update(ctx, "ended-call", ended); err != nil {
		t.Fatalf("Update ended-call: %v", err)
	}

	// Exit as a crash would: no Close, no checkpoint, no deferred calls.
	os.Exit(crashExitCode)
}

func TestCrashLeavesTrace(t *testing.T) {
	path := tempDBPath(t)
	runCrashingChild(t, path)
	// Without Close, the steps are still only in the write-ahead log.
	if info, err := os.Stat(path + "-wal"); err != nil || info.Size() == 0 {
		t.Fatalf("write-ahead log after crash: %v, want a non-empty file", err)
	}

	store := openStore(t, path, testKey(t, 1))
	ctx := context.Background()
	trace, err := store.Get(ctx, "open-call")
	if err != nil {
		t.Fatalf("Get after crash: %v", err)
	}
	if trace.Queue != "general" || !trace.EndedAt.IsZero() || trace.Outcome != "" {
		t.Fatalf("record after crash: queue %q, ended %v, outcome %q; want the queued, open call",
			trace.Queue, trace.EndedAt, trace.Outcome)
	}

	restart := testTime(time.Hour)
	count, err := store.MarkInterrupted(ctx, restart)
	if err != nil {
		t.Fatalf("MarkInterrupted: %v", err)
	}
	if count != 1 {
		t.Errorf("MarkInterrupted count = %d, want 1", count)
	}

	got, err := store.Get(ctx, "open-call")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Outcome", got.Outcome, OutcomeInterrupted},
		{"HangupSide", got.HangupSide, SideServer},
		{"HangupReason", got.HangupReason, "server restarted"},
		{"Queue", got.Queue, "general"},
		{"CallerNumber", got.CallerNumber, "01012345678"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !got.EndedAt.Equal(restart) {
		t.Errorf("EndedAt = %v, want %v", got.EndedAt, restart)
	}

	ended, err := store.Get(ctx, "ended-call")
	if err != nil {
		t.Fatalf("Get ended-call: %v", err)
	}
	if ended.Outcome != OutcomeAbandonedInIVR {
		t.Errorf("ended call outcome = %q, want it unchanged (%q)", ended.Outcome, OutcomeAbandonedInIVR)
	}

	again, err := store.MarkInterrupted(ctx, restart)
	if err != nil || again != 0 {
		t.Errorf("second MarkInterrupted = %d, %v; want 0, nil", again, err)
	}
}

// runCrashingChild runs TestCrashChildProcess in a new process of this test
// binary and checks that it reached its exit without closing the store.
func runCrashingChild(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+path)
	output, err := cmd.CombinedOutput()

	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != crashExitCode {
		t.Fatalf("child process: %v, want exit code %d; output:\n%s", err, crashExitCode, output)
	}
}

func TestMarkInterruptedCallsReturnsRecords(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	ctx := context.Background()
	calls := []StartInfo{
		{CallID: "later", CallerNumber: "01012345678", StartedAt: testTime(time.Second)},
		{CallID: "earlier", CallerWithheld: true, StartedAt: testTime(0)},
		{CallID: "ended", CallerNumber: "01087654321", StartedAt: testTime(0)},
	}
	for _, info := range calls {
		if err := store.Start(ctx, info); err != nil {
			t.Fatalf("Start %s: %v", info.CallID, err)
		}
	}
	ended := Patch{EndedAt: new(testTime(time.Minute)), Outcome: new(OutcomeAbandonedInIVR), HangupSide: new(SideCaller)}
	if err := store.Update(ctx, "ended", ended); err != nil {
		t.Fatalf("Update ended: %v", err)
	}

	recs, err := store.MarkInterruptedCalls(ctx, testTime(time.Hour))
	if err != nil {
		t.Fatalf("MarkInterruptedCalls: %v", err)
	}
	if len(recs) != 2 || recs[0].CallID != "earlier" || recs[1].CallID != "later" {
		t.Fatalf("closed records = %+v, want earlier then later", recs)
	}
	if recs[1].CallerNumber != "01012345678" || recs[1].Outcome != OutcomeInterrupted {
		t.Errorf("record later = %+v, want its number decrypted and outcome interrupted", recs[1])
	}
	if !recs[0].CallerWithheld || recs[0].CallerNumber != "" {
		t.Errorf("record earlier = %+v, want the number withheld", recs[0])
	}
}
