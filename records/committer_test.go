package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"helpline/events"
)

// holdCommitter runs a write that blocks the committer until the returned
// release function is called, so the writes a test queues meanwhile are
// taken together as the next batch. The blocking write's result is checked
// at cleanup.
func holdCommitter(t *testing.T, store *Store) (release func()) {
	t.Helper()
	started := make(chan struct{})
	unblock := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- store.inTx(context.Background(), func(context.Context, *sql.Tx) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	<-started

	var once sync.Once
	release = func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(func() {
		release()
		if err := <-result; err != nil {
			t.Errorf("blocking write: %v", err)
		}
	})
	return release
}

// queuedWrites returns how many writes wait in the committer's queue.
func queuedWrites(store *Store) int {
	store.committer.mu.Lock()
	defer store.committer.mu.Unlock()
	return len(store.committer.queue)
}

// batchJob is a write a test queues behind holdCommitter.
type batchJob struct {
	name string
	fn   txFunc
	// tx is the transaction the write ran in, err its result.
	tx  *sql.Tx
	err error
}

// runQueued queues the jobs in order while the committer is held, releases
// the committer and waits for every result.
func runQueued(t *testing.T, store *Store, jobs []*batchJob) {
	t.Helper()
	release := holdCommitter(t, store)

	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Go(func() {
			job.err = store.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				job.tx = tx
				return job.fn(ctx, tx)
			})
		})
		waitFor(t, fmt.Sprintf("write %s queued", job.name), func() bool { return queuedWrites(store) == i+1 })
	}
	release()
	wg.Wait()
}

// insertCall returns a write that starts the record of callID.
func insertCall(store *Store, callID string) txFunc {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := store.txExec(ctx, tx, `INSERT INTO calls
			(call_id, source, called_number, caller_withheld, caller_hash, started_at, updated_at)
			VALUES (?, '', '', 0, '', 0, 0)`, callID)
		return err
	}
}

// storedCallIDs returns the call ids in the calls table, sorted.
func storedCallIDs(t *testing.T, store *Store) []string {
	t.Helper()
	rows, err := store.reader.QueryContext(context.Background(), `SELECT call_id FROM calls ORDER BY call_id`)
	if err != nil {
		t.Fatalf("list call ids: %v", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("scan call id: %v", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list call ids: %v", err)
	}
	return ids
}

func TestGroupCommitConcurrentWrites(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	const writers = 64

	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			errs <- store.Start(context.Background(), StartInfo{CallID: fmt.Sprintf("call-%02d", i), CallerNumber: "01012345678"})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Start: %v", err)
		}
	}

	if ids := storedCallIDs(t, store); len(ids) != writers {
		t.Errorf("stored %d call records, want %d", len(ids), writers)
	}
}

func TestGroupCommitQueuedWritesShareTransaction(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	jobs := []*batchJob{
		{name: "a", fn: insertCall(store, "a")},
		{name: "b", fn: insertCall(store, "b")},
		{name: "c", fn: insertCall(store, "c")},
	}
	runQueued(t, store, jobs)

	for _, job := range jobs {
		if job.err != nil {
			t.Errorf("write %s: %v", job.name, job.err)
		}
		if job.tx != jobs[0].tx {
			t.Errorf("write %s ran in another transaction than write %s, want one batch", job.name, jobs[0].name)
		}
	}
	if ids := storedCallIDs(t, store); strings.Join(ids, ",") != "a,b,c" {
		t.Errorf("stored call ids = %v, want [a b c]", ids)
	}
}

func TestGroupCommitFailedWriteSparesNeighbours(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	errOwn := errors.New("write gave up")
	insertB := insertCall(store, "b")
	jobs := []*batchJob{
		{name: "a", fn: insertCall(store, "a")},
		// b inserts its row, then fails on a NOT NULL constraint: its
		// row must be rolled back with it.
		{name: "b", fn: func(ctx context.Context, tx *sql.Tx) error {
			if err := insertB(ctx, tx); err != nil {
				return err
			}
			_, err := store.txExec(ctx, tx, `INSERT INTO calls (call_id) VALUES (NULL)`)
			return err
		}},
		{name: "c", fn: insertCall(store, "c")},
		// d inserts its row and returns an error of its own.
		{name: "d", fn: func(ctx context.Context, tx *sql.Tx) error {
			if err := insertCall(store, "d")(ctx, tx); err != nil {
				return err
			}
			return errOwn
		}},
		{name: "e", fn: insertCall(store, "e")},
	}
	runQueued(t, store, jobs)

	for _, job := range []*batchJob{jobs[0], jobs[2], jobs[4]} {
		if job.err != nil {
			t.Errorf("write %s: %v, want nil beside the failed writes", job.name, job.err)
		}
	}
	if err := jobs[1].err; err == nil || !isRejection(err) {
		t.Errorf("write b: %v, want a constraint error the spool treats as a rejection", err)
	}
	if err := jobs[3].err; !errors.Is(err, errOwn) {
		t.Errorf("write d: %v, want its own error", err)
	}
	if ids := storedCallIDs(t, store); strings.Join(ids, ",") != "a,c,e" {
		t.Errorf("stored call ids = %v, want [a c e]", ids)
	}
}

// A deferred foreign key that a write leaves violated passes every
// statement and fails the commit, which must fail the whole batch.
func TestGroupCommitCommitFailureFailsBatch(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	ctx := context.Background()
	if _, err := store.exec(ctx, `CREATE TABLE test_parent (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatalf("create parent table: %v", err)
	}
	if _, err := store.exec(ctx, `CREATE TABLE test_child (parent INTEGER REFERENCES test_parent (id) DEFERRABLE INITIALLY DEFERRED)`); err != nil {
		t.Fatalf("create child table: %v", err)
	}

	jobs := []*batchJob{
		{name: "a", fn: insertCall(store, "a")},
		{name: "orphan", fn: func(ctx context.Context, tx *sql.Tx) error {
			_, err := store.txExec(ctx, tx, `INSERT INTO test_child (parent) VALUES (42)`)
			return err
		}},
		{name: "c", fn: insertCall(store, "c")},
	}
	runQueued(t, store, jobs)

	for _, job := range jobs {
		if job.err == nil || !strings.Contains(job.err.Error(), "commit records transaction") {
			t.Errorf("write %s: %v, want the commit error", job.name, job.err)
		}
	}
	if ids := storedCallIDs(t, store); len(ids) != 0 {
		t.Errorf("stored call ids = %v after a failed commit, want none", ids)
	}

	// The failed commit must leave the writer outside any transaction.
	if err := store.Start(ctx, StartInfo{CallID: "after"}); err != nil {
		t.Errorf("Start after the failed commit: %v", err)
	}
}

// SQLite rolls back the whole transaction on some errors, such as a full
// disk. A write that ends the transaction itself simulates that case.
func TestGroupCommitLostTransactionRetriesLaterWrites(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	errDisk := errors.New("disk failed")
	jobs := []*batchJob{
		{name: "a", fn: insertCall(store, "a")},
		{name: "lost", fn: func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `ROLLBACK`); err != nil {
				return err
			}
			return errDisk
		}},
		{name: "c", fn: insertCall(store, "c")},
	}
	runQueued(t, store, jobs)

	if err := jobs[0].err; err == nil || isRejection(err) {
		t.Errorf("write a: %v, want a store failure because its transaction was lost", err)
	}
	if err := jobs[1].err; !errors.Is(err, errDisk) {
		t.Errorf("write lost: %v, want its own error", err)
	}
	if err := jobs[2].err; err != nil {
		t.Errorf("write c: %v, want nil from a new transaction", err)
	}
	if jobs[2].tx == jobs[0].tx {
		t.Error("write c ran in the lost transaction, want a new one")
	}
	if ids := storedCallIDs(t, store); strings.Join(ids, ",") != "c" {
		t.Errorf("stored call ids = %v, want [c]", ids)
	}
}

// The committer treats a failed commit as a store failure for every write
// in the batch, which holds only while no constraint is checked at commit.
func TestSQLiteMigrationsHaveNoDeferredConstraints(t *testing.T) {
	migrations, err := loadMigrations(sqliteDialect.name)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	for _, m := range migrations {
		if strings.Contains(strings.ToUpper(m.sql), "DEFERR") {
			t.Errorf("migration %d (%s) declares a deferred constraint, which would fail a whole batch at commit", m.version, m.name)
		}
	}
}

func TestGroupCommitKeepsOrderOfOneWriter(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	ctx := context.Background()
	const ordered, others = 100, 8

	var wg sync.WaitGroup
	errs := make(chan error, others+1)
	wg.Go(func() {
		for i := range ordered {
			if err := store.AppendEvents(ctx, []events.Event{{Type: "ordered", CallID: fmt.Sprintf("%03d", i)}}); err != nil {
				errs <- err
				return
			}
		}
	})
	for i := range others {
		wg.Go(func() {
			for j := range ordered / 4 {
				if err := store.AppendEvents(ctx, []events.Event{{Type: "other", CallID: fmt.Sprintf("%d-%d", i, j)}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("AppendEvents: %v", err)
	}

	list, err := store.ListEvents(ctx, EventListOptions{})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	next := 0
	for _, e := range list {
		if e.Type != "ordered" {
			continue
		}
		if want := fmt.Sprintf("%03d", next); e.CallID != want {
			t.Fatalf("ordered event %d has call id %s, want %s", next, e.CallID, want)
		}
		next++
	}
	if next != ordered {
		t.Errorf("stored %d ordered events, want %d", next, ordered)
	}
}

func TestGroupCommitCancelBeforeStart(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	release := holdCommitter(t, store)

	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	result := make(chan error, 1)
	go func() {
		result <- store.inTx(ctx, func(context.Context, *sql.Tx) error {
			ran = true
			return nil
		})
	}()
	waitFor(t, "the queued write", func() bool { return queuedWrites(store) == 1 })
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled queued write = %v, want context.Canceled", err)
	}

	release()
	// A write behind the cancelled one shows that the batch is done.
	if err := store.Start(context.Background(), StartInfo{CallID: "after"}); err != nil {
		t.Fatalf("Start after the cancelled write: %v", err)
	}
	if ran {
		t.Error("cancelled write ran, want it skipped")
	}
}

func TestGroupCommitCancelAfterStartCommits(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	proceed := make(chan struct{})
	var jobCtxErr error
	result := make(chan error, 1)
	go func() {
		result <- store.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			<-proceed
			jobCtxErr = ctx.Err()
			return insertCall(store, "started")(ctx, tx)
		})
	}()
	<-started
	cancel()
	close(proceed)

	if err := <-result; err != nil {
		t.Errorf("write cancelled after it started = %v, want nil", err)
	}
	if jobCtxErr != nil {
		t.Errorf("context inside the started write = %v, want no cancellation", jobCtxErr)
	}
	if ids := storedCallIDs(t, store); strings.Join(ids, ",") != "started" {
		t.Errorf("stored call ids = %v, want [started]", ids)
	}
}

func TestGroupCommitCloseDrainsQueue(t *testing.T) {
	path := tempDBPath(t)
	store, err := Open(context.Background(), path, testKey(t, 1))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	release := holdCommitter(t, store)

	const pending = 10
	errs := make(chan error, pending)
	for i := range pending {
		go func() {
			errs <- store.Start(context.Background(), StartInfo{CallID: fmt.Sprintf("pending-%d", i)})
		}()
	}
	waitFor(t, "the queued writes", func() bool { return queuedWrites(store) == pending })

	closed := make(chan error, 1)
	go func() { closed <- store.Close() }()
	waitFor(t, "Close to stop taking writes", func() bool {
		store.committer.mu.Lock()
		defer store.committer.mu.Unlock()
		return store.committer.closing
	})
	if err := store.inTx(context.Background(), insertCall(store, "late")); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close = %v, want ErrClosed", err)
	}
	release()

	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range pending {
		if err := <-errs; err != nil {
			t.Errorf("queued Start: %v", err)
		}
	}
	select {
	case <-store.committer.stopped:
	default:
		t.Error("committer still running after Close")
	}

	reopened := openStore(t, path, testKey(t, 1))
	if ids := storedCallIDs(t, reopened); len(ids) != pending {
		t.Errorf("stored %d call records after Close, want %d", len(ids), pending)
	}
}

// BenchmarkConcurrentCallStarts measures call-record starts from
// benchWriters goroutines at once, with group commit and with one
// transaction per write (a batch cap of 1, the behaviour before group
// commit). Every commit waits for an fsync, so the numbers depend on the
// disk under the test's temporary folder.
func BenchmarkConcurrentCallStarts(b *testing.B) {
	const benchWriters = 16
	for _, bench := range []struct {
		name     string
		maxBatch int
	}{
		{"group", defaultMaxBatch},
		{"single", 1},
	} {
		b.Run(bench.name, func(b *testing.B) {
			key, err := NewKey(make([]byte, KeySize))
			if err != nil {
				b.Fatalf("NewKey: %v", err)
			}
			store, err := Open(context.Background(), filepath.Join(b.TempDir(), "records.db"), key, withMaxBatch(bench.maxBatch))
			if err != nil {
				b.Fatalf("Open: %v", err)
			}
			b.Cleanup(func() {
				if err := store.Close(); err != nil {
					b.Errorf("Close: %v", err)
				}
			})

			var next atomic.Int64
			errs := make(chan error, benchWriters)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range benchWriters {
				wg.Go(func() {
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							return
						}
						info := StartInfo{CallID: "bench-" + strconv.FormatInt(n, 10), CallerNumber: "01012345678"}
						if err := store.Start(context.Background(), info); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
			close(errs)
			for err := range errs {
				b.Errorf("Start: %v", err)
			}
		})
	}
}

func TestGroupCommitPanicReachesCaller(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = store.inTx(context.Background(), func(context.Context, *sql.Tx) error {
			panic("broken write")
		})
	}()
	if recovered != "broken write" {
		t.Errorf("recovered %v, want the write's panic value", recovered)
	}

	// The committer survives the panic and takes the next write.
	if err := store.Start(context.Background(), StartInfo{CallID: "after"}); err != nil {
		t.Errorf("Start after the panic: %v", err)
	}
}
