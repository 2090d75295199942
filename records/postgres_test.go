package records

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"helpline/internal/pgtest"
)

// nodeCount is how many nodes the shared-database tests run at once.
const nodeCount = 4

// openNodes opens nodeCount stores on one PostgreSQL database, as the
// nodes of a cluster do.
func openNodes(t *testing.T, dsn string) []*Store {
	t.Helper()
	db := testDB{dialect: &postgresDialect, dsn: dsn}
	stores := make([]*Store, nodeCount)
	for i := range stores {
		stores[i] = db.openStore(t, testKey(t, 1))
	}
	return stores
}

// concurrently runs fn for every node at once and returns the errors in
// node order.
func concurrently(fn func(i int) error) []error {
	errs := make([]error, nodeCount)
	var wg sync.WaitGroup
	for i := range nodeCount {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

func TestPostgresConcurrentOpenMigratesOnce(t *testing.T) {
	db := testDB{dialect: &postgresDialect, dsn: pgtest.NewDatabase(t)}
	stores := make([]*Store, nodeCount)
	errs := concurrently(func(i int) error {
		var err error
		stores[i], err = db.open(context.Background(), testKey(t, 1))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d open: %v", i, err)
			continue
		}
		if err := stores[i].Close(); err != nil {
			t.Errorf("node %d close: %v", i, err)
		}
	}

	migrations, err := loadMigrations(postgresDialect.name)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	if versions := db.appliedVersions(t); len(versions) != len(migrations) {
		t.Errorf("applied versions = %v, want each of the %d migrations once", versions, len(migrations))
	}
}

func TestPostgresNodesStartSameCallID(t *testing.T) {
	stores := openNodes(t, pgtest.NewDatabase(t))
	errs := concurrently(func(i int) error {
		return stores[i].Start(context.Background(), StartInfo{CallID: "reused", Node: fmt.Sprintf("node-%d", i)})
	})

	started := 0
	for i, err := range errs {
		switch {
		case err == nil:
			started++
		case !errors.Is(err, ErrDuplicate):
			t.Errorf("node %d Start: %v, want nil or ErrDuplicate", i, err)
		}
	}
	if started != 1 {
		t.Errorf("%d nodes started the record, want exactly 1", started)
	}
}

func TestPostgresNodesCreateSameCallback(t *testing.T) {
	stores := openNodes(t, pgtest.NewDatabase(t))
	errs := concurrently(func(i int) error {
		return stores[i].CreateCallback(context.Background(), Callback{
			TaskID: "interrupted-call", CallID: "call", Queue: "general", Reason: "interrupted",
			State: CallbackPending, EnqueuedAt: testTime(0), CreatedAt: testTime(0),
		})
	})

	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, ErrCallbackExists):
			t.Errorf("node %d CreateCallback: %v, want nil or ErrCallbackExists", i, err)
		}
	}
	if created != 1 {
		t.Errorf("%d nodes created the task, want exactly 1", created)
	}
}

func TestPostgresNodesMarkSameNodeOnce(t *testing.T) {
	stores := openNodes(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	var want []string
	for i := range 30 {
		id := fmt.Sprintf("call-%02d", i)
		want = append(want, id)
		if err := stores[0].Start(ctx, StartInfo{CallID: id, Node: "stopped", StartedAt: testTime(0)}); err != nil {
			t.Fatalf("Start %s: %v", id, err)
		}
	}

	closed := make([][]Record, nodeCount)
	errs := concurrently(func(i int) error {
		var err error
		closed[i], err = stores[i].MarkNodeInterrupted(ctx, "stopped", testTime(0))
		return err
	})
	var got []string
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d MarkNodeInterrupted: %v", i, err)
		}
		got = append(got, callIDs(closed[i])...)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("records returned across nodes = %v, want each of %v exactly once", got, want)
	}
}

func TestOpenPostgresHidesPassword(t *testing.T) {
	const password = "s3cret-pass"
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	// A closed port refuses the connection.
	addr := listener.Addr().String()
	if err := listener.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}

	tests := []struct {
		name string
		dsn  string
	}{
		{"unreachable server", "postgres://helpline:" + password + "@" + addr + "/records?sslmode=disable&connect_timeout=5"},
		{"malformed port", "postgres://helpline:" + password + "@127.0.0.1:notaport/records"},
		{"unknown setting", "host=127.0.0.1 password=" + password + " sslmode=sometimes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenPostgres(context.Background(), tt.dsn, testKey(t, 1))
			if err == nil {
				t.Fatal("OpenPostgres succeeded, want an error")
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestPostgresOpenWaitsForMigrationLock(t *testing.T) {
	const lockTimeout = 50 * time.Millisecond
	db := testDB{dialect: &postgresDialect, dsn: pgtest.NewDatabase(t)}
	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()

	// Another node migrating holds the lock until its transaction ends.
	holder, err := db.raw(t).BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer func() { _ = holder.Rollback() }()
	if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		t.Fatalf("take the migration lock: %v", err)
	}

	opened := make(chan error, 1)
	go func() {
		store, err := db.open(ctx, testKey(t, 1), WithBusyTimeout(lockTimeout))
		if err == nil {
			err = store.Close()
		}
		opened <- err
	}()
	waitForAdvisoryLockWaiter(t, db, 10*lockTimeout)

	if err := holder.Rollback(); err != nil {
		t.Fatalf("release the migration lock: %v", err)
	}
	if err := <-opened; err != nil {
		t.Errorf("open while another node held the migration lock longer than lock_timeout: %v, want success", err)
	}
}

// waitForAdvisoryLockWaiter returns once a session has waited longer than
// waited for an advisory lock on the database, and fails t when none has
// within 10 seconds.
func waitForAdvisoryLockWaiter(t *testing.T, db testDB, waited time.Duration) {
	t.Helper()
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	raw := db.raw(t)
	for {
		var waiting int
		err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND waitstart < now() - $1 * interval '1 millisecond'`,
			waited.Milliseconds()).Scan(&waiting)
		if err != nil {
			t.Fatalf("read pg_locks: %v", err)
		}
		if waiting > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no session waited %s for the migration lock: %v", waited, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
