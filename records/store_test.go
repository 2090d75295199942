package records

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kst is Korean Standard Time, used to check that times come back in UTC.
var kst = time.FixedZone("KST", 9*60*60)

// testTime returns a fixed instant plus offset, in KST.
func testTime(offset time.Duration) time.Time {
	return time.Date(2026, time.March, 1, 18, 15, 2, 250_000_000, kst).Add(offset)
}

// testKey returns a key whose bytes all equal fill, so two fills give two
// different keys.
func testKey(t *testing.T, fill byte) Key {
	t.Helper()
	material := make([]byte, KeySize)
	for i := range material {
		material[i] = fill
	}
	key, err := NewKey(material)
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	return key
}

// openStore opens the store at path and closes it when the test ends.
func openStore(t *testing.T, path string, key Key, opts ...Option) *Store {
	t.Helper()
	store, err := Open(context.Background(), path, key, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return store
}

// tempDBPath returns a database path inside a folder that does not exist yet.
func tempDBPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "data", "records.db")
}

// fixedClock returns a clock that always reads at.
func fixedClock(at time.Time) Option {
	return WithClock(func() time.Time { return at })
}

// rawDB opens the database file directly, bypassing the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName, dataSourceName(path, defaultBusyTimeout, false))
	if err != nil {
		t.Fatalf("open raw database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestOpenMigratesEmptyDatabase(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store, err := db.open(context.Background(), testKey(t, 1))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		migrations, err := loadMigrations(db.dialect.name)
		if err != nil {
			t.Fatalf("loadMigrations: %v", err)
		}
		versions := db.appliedVersions(t)
		if len(versions) != len(migrations) {
			t.Fatalf("applied versions = %v, want %d migrations", versions, len(migrations))
		}
		for i, version := range versions {
			if version != i+1 {
				t.Errorf("applied version %d = %d, want %d", i, version, i+1)
			}
		}
	})
}

func TestOpenTwiceIsIdempotent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		key := testKey(t, 1)
		first, err := db.open(context.Background(), key)
		if err != nil {
			t.Fatalf("first Open: %v", err)
		}
		if err := first.Start(context.Background(), StartInfo{CallID: "kept", StartedAt: testTime(0)}); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := first.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}

		second := db.openStore(t, key)
		if _, err := second.Get(context.Background(), "kept"); err != nil {
			t.Errorf("Get after reopen: %v", err)
		}
		migrations, err := loadMigrations(db.dialect.name)
		if err != nil {
			t.Fatalf("loadMigrations: %v", err)
		}
		if versions := db.appliedVersions(t); len(versions) != len(migrations) {
			t.Errorf("applied versions after reopen = %v, want each of the %d migrations once", versions, len(migrations))
		}
	})
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		key := testKey(t, 1)
		store, err := db.open(context.Background(), key)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		future := len(db.appliedVersions(t)) + 1
		db.exec(t, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, future, "2030-01-01T00:00:00Z")

		_, err = db.open(context.Background(), key)
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("Open of a newer database: error = %v, want ErrSchemaTooNew", err)
		}
		if !strings.Contains(err.Error(), "newer") {
			t.Errorf("error %q does not say the database is newer", err)
		}
	})
}

func TestOpenRejectsZeroKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		_, err := db.open(context.Background(), Key{})
		if !errors.Is(err, ErrNoKey) {
			t.Fatalf("Open with the zero Key: error = %v, want ErrNoKey", err)
		}
	})
}

func TestOpenFileModes(t *testing.T) {
	path := tempDBPath(t)
	store := openStore(t, path, testKey(t, 1))
	// A write makes SQLite create the write-ahead log.
	if err := store.Start(context.Background(), StartInfo{CallID: "c"}); err != nil {
		t.Fatalf("Start: %v", err)
	}

	tests := []struct {
		name string
		path string
		want os.FileMode
	}{
		{name: "folder", path: filepath.Dir(path), want: dirMode},
		{name: "database file", path: path, want: fileMode},
		{name: "write-ahead log", path: path + "-wal", want: fileMode},
		{name: "shared memory", path: path + "-shm", want: fileMode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := os.Stat(tt.path)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if got := info.Mode().Perm(); got != tt.want {
				t.Errorf("mode = %04o, want %04o", got, tt.want)
			}
		})
	}
}

func TestOpenTightensOpenFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatalf("create file: %v", err)
	}
	// WriteFile applies the umask, so set the mode explicitly.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatalf("chmod: %v", err)
	}

	openStore(t, path, testKey(t, 1))

	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if got := info.Mode().Perm(); got != fileMode {
		t.Errorf("mode = %04o, want %04o", got, fileMode)
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data dir?#%20", "records.db")
	store := openStore(t, path, testKey(t, 1))
	if err := store.Start(context.Background(), StartInfo{CallID: "c"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	info, err := os.Stat(path)
	if err != nil || info.Size() == 0 {
		t.Fatalf("database at %q: %v, want a non-empty file", path, err)
	}
}

func TestStartUpdateRoundTrip(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		updatedAt := testTime(time.Hour)
		store := db.openStore(t, testKey(t, 1), fixedClock(updatedAt))
		ctx := context.Background()

		err := store.Start(ctx, StartInfo{
			CallID:       "call-1@trunk",
			Source:       "203.0.113.10:5060",
			CalledNumber: "120",
			CallerNumber: "+82 10-1234-5678",
			StartedAt:    testTime(0),
		})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}

		patches := []Patch{
			{AnsweredAt: new(testTime(time.Second))},
			{Digits: new("12"), Language: new("ko"), CallerType: new("self")},
			{QueuedAt: new(testTime(20 * time.Second)), Queue: new("general")},
			{CounselorAnsweredAt: new(testTime(45 * time.Second)), Counselor: new("counselor-7"), QueueWait: new(25 * time.Second)},
			{EndedAt: new(testTime(10 * time.Minute)), Outcome: new(OutcomeAnswered), HangupSide: new(SideCaller), HangupReason: new("BYE")},
		}
		for i, patch := range patches {
			if err := store.Update(ctx, "call-1@trunk", patch); err != nil {
				t.Fatalf("Update %d: %v", i, err)
			}
		}

		got, err := store.Get(ctx, "call-1@trunk")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		checks := []struct {
			name      string
			got, want any
		}{
			{"Source", got.Source, "203.0.113.10:5060"},
			{"CalledNumber", got.CalledNumber, "120"},
			{"CallerNumber", got.CallerNumber, "+82 10-1234-5678"},
			{"CallerWithheld", got.CallerWithheld, false},
			{"CallerHash", got.CallerHash, store.numbers.hash("01012345678")},
			{"CallerNumberErr", got.CallerNumberErr, nil},
			{"Digits", got.Digits, "12"},
			{"Language", got.Language, "ko"},
			{"CallerType", got.CallerType, "self"},
			{"Queue", got.Queue, "general"},
			{"Counselor", got.Counselor, "counselor-7"},
			{"TransferTarget", got.TransferTarget, ""},
			{"QueueWait", got.QueueWait, 25 * time.Second},
			{"Outcome", got.Outcome, OutcomeAnswered},
			{"HangupSide", got.HangupSide, SideCaller},
			{"HangupReason", got.HangupReason, "BYE"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}

		times := []struct {
			name      string
			got, want time.Time
		}{
			{"StartedAt", got.StartedAt, testTime(0)},
			{"AnsweredAt", got.AnsweredAt, testTime(time.Second)},
			{"QueuedAt", got.QueuedAt, testTime(20 * time.Second)},
			{"CounselorAnsweredAt", got.CounselorAnsweredAt, testTime(45 * time.Second)},
			{"EndedAt", got.EndedAt, testTime(10 * time.Minute)},
			{"UpdatedAt", got.UpdatedAt, updatedAt},
		}
		for _, c := range times {
			if !c.got.Equal(c.want) {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
			if c.got.Location() != time.UTC {
				t.Errorf("%s location = %v, want UTC", c.name, c.got.Location())
			}
		}
	})
}

func TestStartDefaultsToClock(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		now := testTime(0)
		store := db.openStore(t, testKey(t, 1), fixedClock(now))
		if err := store.Start(context.Background(), StartInfo{CallID: "no-time"}); err != nil {
			t.Fatalf("Start: %v", err)
		}
		got, err := store.Get(context.Background(), "no-time")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !got.StartedAt.Equal(now) {
			t.Errorf("StartedAt = %v, want the clock %v", got.StartedAt, now)
		}
		if !got.AnsweredAt.IsZero() || !got.EndedAt.IsZero() {
			t.Errorf("AnsweredAt = %v, EndedAt = %v, want both zero", got.AnsweredAt, got.EndedAt)
		}
	})
}

func TestUpdateZeroTimeClears(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		if err := store.Start(ctx, StartInfo{CallID: "c", StartedAt: testTime(0)}); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := store.Update(ctx, "c", Patch{AnsweredAt: new(testTime(time.Second))}); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if err := store.Update(ctx, "c", Patch{AnsweredAt: new(time.Time{})}); err != nil {
			t.Fatalf("Update with zero time: %v", err)
		}

		got, err := store.Get(ctx, "c")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !got.AnsweredAt.IsZero() {
			t.Errorf("AnsweredAt = %v, want zero after a zero-time patch", got.AnsweredAt)
		}
	})
}

func TestStoreErrors(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		if err := store.Start(ctx, StartInfo{CallID: "exists", StartedAt: testTime(0)}); err != nil {
			t.Fatalf("Start: %v", err)
		}

		tests := []struct {
			name string
			run  func() error
			want error
		}{
			{"start duplicate", func() error { return store.Start(ctx, StartInfo{CallID: "exists"}) }, ErrDuplicate},
			{"start empty call id", func() error { return store.Start(ctx, StartInfo{}) }, ErrInvalidInput},
			{"update unknown call", func() error { return store.Update(ctx, "missing", Patch{Digits: new("1")}) }, ErrNotFound},
			{"update unknown outcome", func() error { return store.Update(ctx, "exists", Patch{Outcome: new(Outcome("lost"))}) }, ErrInvalidInput},
			{"update unknown side", func() error { return store.Update(ctx, "exists", Patch{HangupSide: new(Side("both"))}) }, ErrInvalidInput},
			{"update negative wait", func() error { return store.Update(ctx, "exists", Patch{QueueWait: new(-time.Second)}) }, ErrInvalidInput},
			{"get unknown call", func() error { _, err := store.Get(ctx, "missing"); return err }, ErrNotFound},
			{"find number without digits", func() error { _, err := store.FindByNumber(ctx, "anonymous"); return err }, ErrNoDigits},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.run(); !errors.Is(err, tt.want) {
					t.Errorf("error = %v, want %v", err, tt.want)
				}
			})
		}
	})
}

func TestUpdateEmptyPatchTouchesRecord(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		later := testTime(time.Hour)
		clock := testTime(0)
		store := db.openStore(t, testKey(t, 1), WithClock(func() time.Time { return clock }))
		ctx := context.Background()
		if err := store.Start(ctx, StartInfo{CallID: "c"}); err != nil {
			t.Fatalf("Start: %v", err)
		}

		clock = later
		if err := store.Update(ctx, "c", Patch{}); err != nil {
			t.Fatalf("Update with an empty patch: %v", err)
		}
		got, err := store.Get(ctx, "c")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !got.UpdatedAt.Equal(later) {
			t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, later)
		}
	})
}

func TestClosedStore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store, err := db.open(context.Background(), testKey(t, 1))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Errorf("second Close: %v, want nil", err)
		}

		ctx := context.Background()
		tests := []struct {
			name string
			run  func() error
		}{
			{"Start", func() error { return store.Start(ctx, StartInfo{CallID: "c"}) }},
			{"Update", func() error { return store.Update(ctx, "c", Patch{}) }},
			{"MarkInterrupted", func() error { _, err := store.MarkInterrupted(ctx, testTime(0)); return err }},
			{"MarkNodeInterrupted", func() error { _, err := store.MarkNodeInterrupted(ctx, "node-a", testTime(0)); return err }},
			{"Get", func() error { _, err := store.Get(ctx, "c"); return err }},
			{"List", func() error { _, err := store.List(ctx, ListOptions{}); return err }},
			{"FindByNumber", func() error { _, err := store.FindByNumber(ctx, "01012345678"); return err }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.run(); !errors.Is(err, ErrClosed) {
					t.Errorf("error = %v, want ErrClosed", err)
				}
			})
		}
	})
}

func TestListSinceAndLimit(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		// Inserted out of order, so the result order comes from StartedAt.
		for _, minute := range []int{3, 1, 4, 2, 0} {
			info := StartInfo{CallID: "call-" + string(rune('a'+minute)), StartedAt: testTime(time.Duration(minute) * time.Minute)}
			if err := store.Start(ctx, info); err != nil {
				t.Fatalf("Start %s: %v", info.CallID, err)
			}
		}

		tests := []struct {
			name string
			opts ListOptions
			want []string
		}{
			{"all", ListOptions{}, []string{"call-a", "call-b", "call-c", "call-d", "call-e"}},
			{"since", ListOptions{Since: testTime(2 * time.Minute)}, []string{"call-c", "call-d", "call-e"}},
			{"limit", ListOptions{Limit: 2}, []string{"call-a", "call-b"}},
			{"since and limit", ListOptions{Since: testTime(time.Minute), Limit: 2}, []string{"call-b", "call-c"}},
			{"since after all", ListOptions{Since: testTime(time.Hour)}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				recs, err := store.List(ctx, tt.opts)
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				var ids []string
				for _, rec := range recs {
					ids = append(ids, rec.CallID)
				}
				if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
					t.Errorf("call ids = %v, want %v", ids, tt.want)
				}
			})
		}
	})
}
