package records

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestIsRejectionSortsErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"duplicate", fmt.Errorf("start: %w", ErrDuplicate), true},
		{"not found", fmt.Errorf("update: %w", ErrNotFound), true},
		{"invalid input", ErrInvalidInput, true},
		{"closed store", ErrClosed, true},
		{"postgres unique violation", fmt.Errorf("start: %w", &pgconn.PgError{Code: "23505"}), true},
		{"postgres invalid text", &pgconn.PgError{Code: "22021"}, true},
		{"postgres disk full", &pgconn.PgError{Code: "53100"}, false},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01"}, false},
		{"connection refused", errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), false},
		{"timeout", context.DeadlineExceeded, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := isRejection(tc.err); got != tc.want {
				t.Errorf("isRejection(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestIsRejectionSQLiteConstraint(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	_, err := store.exec(context.Background(), `INSERT INTO calls (call_id) VALUES (NULL)`)
	if err == nil {
		t.Fatal("inserting a call without an id succeeded, want a NOT NULL constraint error")
	}
	if !isRejection(err) {
		t.Errorf("isRejection(%v) = false, want true for a constraint violation", err)
	}
}

func TestSpoolDropsRejectedHeldWrite(t *testing.T) {
	h := newSpoolHarness(t, 10)
	ctx := context.Background()
	h.target.setFailing(errDiskFull)

	// The update of a call without a record is rejected when written
	// back, and must not block the writes behind it.
	if err := h.spool.Update(ctx, "missing", Patch{Digits: strPtr("5")}); err != nil {
		t.Fatalf("held Update: %v", err)
	}
	if err := h.spool.Start(ctx, StartInfo{CallID: "b"}); err != nil {
		t.Fatalf("held Start: %v", err)
	}
	h.target.setFailing(nil)
	waitFor(t, "the recovery", func() bool { return !h.spool.Stats().Unavailable })

	if got := h.target.storedWrites(); len(got) != 1 || got[0] != "start b" {
		t.Errorf("stored writes = %v, want [start b]", got)
	}
	if stats := h.spool.Stats(); stats.Dropped != 1 {
		t.Errorf("dropped = %d, want 1 for the rejected update", stats.Dropped)
	}
	if n := h.logs.count("held call record rejected"); n != 1 {
		t.Errorf("%d rejection lines logged, want 1", n)
	}
}

// PRAGMA query_only makes the store's writer fail as a read-only
// database does, with SQLITE_READONLY, which the spool must hold through.
// The pragma is set on the writer connection directly, because a write
// through the store begins a transaction, which query_only rejects.
func TestSpoolHoldsWhileSQLiteReadOnly(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	spool := NewSpool(store, SpoolConfig{RetryInterval: 5 * time.Millisecond})
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	go spool.Run(runCtx)
	ctx := context.Background()

	if _, err := store.writer.ExecContext(ctx, `PRAGMA query_only = 1`); err != nil {
		t.Fatalf("making the writer read-only: %v", err)
	}
	if err := spool.Start(ctx, StartInfo{CallID: "a", CallerNumber: "01012345678"}); err != nil {
		t.Fatalf("Start on a read-only database = %v, want nil (held)", err)
	}
	stats := spool.Stats()
	if !stats.Unavailable || stats.Depth != 1 {
		t.Fatalf("stats = %+v, want one write held", stats)
	}
	if !strings.Contains(stats.LastError.Error(), "readonly") {
		t.Errorf("last error = %v, want SQLite's read-only error", stats.LastError)
	}

	if _, err := store.writer.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		t.Fatalf("making the writer writable: %v", err)
	}
	waitFor(t, "the held start to be written", func() bool { return !spool.Stats().Unavailable })
	rec, err := store.Get(ctx, "a")
	if err != nil || rec.CallerNumber != "01012345678" {
		t.Errorf("record after the recovery = %+v, %v; want it stored with its number", rec, err)
	}
	stopRun()
	if err := spool.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}
