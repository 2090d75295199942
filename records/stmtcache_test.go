package records

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helpline/events"
)

// cachedStatements returns how many statements the committer keeps
// prepared and how many wait to be prepared.
func cachedStatements(store *Store) (prepared, noted int) {
	cache := store.committer.stmts
	cache.mu.Lock()
	defer cache.mu.Unlock()
	return len(cache.stmts), len(cache.noted)
}

// preparedWithPrefix reports whether the committer keeps a statement
// starting with prefix prepared.
func preparedWithPrefix(store *Store, prefix string) bool {
	cache := store.committer.stmts
	cache.mu.Lock()
	defer cache.mu.Unlock()
	for query := range cache.stmts {
		if strings.HasPrefix(query, prefix) {
			return true
		}
	}
	return false
}

// writeCallLife writes a call's record the way the call layer does:
// start, answer with the language, end.
func writeCallLife(t *testing.T, store *Store, callID string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := store.Start(ctx, StartInfo{CallID: callID, Source: "127.0.0.1", CalledNumber: "120",
		CallerNumber: "01012345678", StartedAt: at}); err != nil {
		t.Fatalf("Start(%s): %v", callID, err)
	}
	language := "ko"
	answered := at.Add(time.Second)
	if err := store.Update(ctx, callID, Patch{AnsweredAt: &answered, Language: &language}); err != nil {
		t.Fatalf("answer %s: %v", callID, err)
	}
	ended := at.Add(2 * time.Second)
	outcome, side, reason := OutcomeEndedInIVR, SideCaller, "caller sent BYE"
	if err := store.Update(ctx, callID, Patch{EndedAt: &ended, Outcome: &outcome, HangupSide: &side,
		HangupReason: &reason}); err != nil {
		t.Fatalf("end %s: %v", callID, err)
	}
}

func TestStatementCacheReusesCallRecordWrites(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	at := testTime(0)

	writeCallLife(t, store, "call-1", at)
	// The first call's statements are prepared after their commits.
	var first int
	waitFor(t, "statements of the first call prepared", func() bool {
		prepared, noted := cachedStatements(store)
		first = prepared
		return noted == 0 && prepared >= 5
	})

	for _, id := range []string{"call-2", "call-3", "call-4"} {
		writeCallLife(t, store, id, at)
	}
	if prepared, noted := cachedStatements(store); prepared != first || noted != 0 {
		t.Errorf("after three more calls: %d prepared, %d noted; want the first call's %d and none noted",
			prepared, noted, first)
	}

	for _, id := range []string{"call-1", "call-4"} {
		rec, err := store.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if rec.Outcome != OutcomeEndedInIVR || rec.Language != "ko" || rec.AnsweredAt.IsZero() || rec.EndedAt.IsZero() {
			t.Errorf("record %s = outcome %q, language %q, answered %v, ended %v; want the whole call",
				id, rec.Outcome, rec.Language, rec.AnsweredAt, rec.EndedAt)
		}
	}
}

func TestStatementCacheFailedWriteLeavesStatementUsable(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	ctx := context.Background()

	if err := store.inTx(ctx, insertCall(store, "first")); err != nil {
		t.Fatalf("insert first: %v", err)
	}
	waitFor(t, "insert statement prepared", func() bool {
		_, noted := cachedStatements(store)
		return noted == 0
	})

	// The prepared INSERT fails on the duplicate id, and the same
	// statement then serves the next insert.
	if err := store.inTx(ctx, insertCall(store, "first")); err == nil {
		t.Fatal("second insert of the same call id succeeded, want a constraint error")
	}
	if err := store.inTx(ctx, insertCall(store, "second")); err != nil {
		t.Fatalf("insert after the failed one: %v", err)
	}
	if got, want := storedCallIDs(t, store), []string{"first", "second"}; !slices.Equal(got, want) {
		t.Errorf("stored call ids = %v, want %v", got, want)
	}
	if err := store.Start(ctx, StartInfo{CallID: "first"}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Start of an existing record = %v, want ErrDuplicate", err)
	}
}

func TestStatementCacheStopsAtItsCap(t *testing.T) {
	db := rawDB(t, filepath.Join(t.TempDir(), "cap.db"))
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatalf("create table: %v", err)
	}

	cache := newStmtCache(db, 2)
	defer cache.close()
	queries := []string{
		`INSERT INTO t (v) VALUES (?)`,
		`UPDATE t SET v = v + ?`,
		`DELETE FROM t WHERE v = ?`,
	}
	for round := range 2 {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("begin: %v", err)
		}
		for _, query := range queries {
			if _, err := cache.exec(ctx, tx, query, round); err != nil {
				t.Fatalf("round %d, %q: %v", round, query, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("commit: %v", err)
		}
		// With the transaction over, preparing does not wait for the
		// single connection.
		cache.prepareNoted()
	}
	if got := cache.size(); got != 2 {
		t.Errorf("prepared statements = %d, want the cap of 2", got)
	}
}

func TestStatementCacheServesEventInserts(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	ctx := context.Background()
	batch := []events.Event{
		{Type: events.CallEnded, CallID: "call-1", At: testTime(0)},
		{Type: events.CallEnded, CallID: "call-2", At: testTime(time.Second)},
	}

	if err := store.AppendEvents(ctx, batch); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	var first int
	waitFor(t, "event insert prepared", func() bool {
		prepared, noted := cachedStatements(store)
		first = prepared
		return noted == 0 && preparedWithPrefix(store, "INSERT INTO events")
	})

	if err := store.AppendEvents(ctx, batch); err != nil {
		t.Fatalf("second AppendEvents: %v", err)
	}
	if prepared, noted := cachedStatements(store); prepared != first || noted != 0 {
		t.Errorf("after a second batch: %d prepared, %d noted; want %d and none noted", prepared, noted, first)
	}

	var count int
	if err := store.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&count); err != nil {
		t.Fatalf("count events: %v", err)
	}
	if count != 4 {
		t.Errorf("stored events = %d, want 4", count)
	}
}
