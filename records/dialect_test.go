package records

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"helpline/internal/pgtest"
)

// TestMain shares one PostgreSQL server among the package's tests.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testDB is one test's empty database in one dialect: an SQLite file that
// does not exist yet, or a fresh PostgreSQL database.
type testDB struct {
	dialect *dialect
	// path is the SQLite file, dsn the PostgreSQL connection string.
	path string
	dsn  string
}

// forEachDialect runs test once on SQLite and once on PostgreSQL, as
// subtests named after the dialect. The PostgreSQL run is skipped when
// PostgreSQL is not installed, except under CI=true.
func forEachDialect(t *testing.T, test func(t *testing.T, db testDB)) {
	t.Run(sqliteDialect.name, func(t *testing.T) {
		test(t, testDB{dialect: &sqliteDialect, path: tempDBPath(t)})
	})
	t.Run(postgresDialect.name, func(t *testing.T) {
		test(t, testDB{dialect: &postgresDialect, dsn: pgtest.NewDatabase(t)})
	})
}

// open opens a store on the database, as Open or OpenPostgres does.
func (db testDB) open(ctx context.Context, key Key, opts ...Option) (*Store, error) {
	if db.dialect == &postgresDialect {
		return OpenPostgres(ctx, db.dsn, key, opts...)
	}
	return Open(ctx, db.path, key, opts...)
}

// openStore opens a store on the database and closes it when the test
// ends.
func (db testDB) openStore(t *testing.T, key Key, opts ...Option) *Store {
	t.Helper()
	store, err := db.open(context.Background(), key, opts...)
	if err != nil {
		t.Fatalf("open %s store: %v", db.dialect.name, err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return store
}

// raw opens the database directly, bypassing the store.
func (db testDB) raw(t *testing.T) *sql.DB {
	t.Helper()
	if db.dialect != &postgresDialect {
		return rawDB(t, db.path)
	}
	conn, err := sql.Open("pgx", db.dsn)
	if err != nil {
		t.Fatalf("open raw database: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// exec runs a statement written with ? placeholders directly on the
// database.
func (db testDB) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := db.raw(t).Exec(db.dialect.bind(query), args...); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// appliedVersions returns the versions in schema_migrations, in order.
func (db testDB) appliedVersions(t *testing.T) []int {
	t.Helper()
	rows, err := db.raw(t).Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var version int
		if err := rows.Scan(&version); err != nil {
			t.Fatalf("scan version: %v", err)
		}
		versions = append(versions, version)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return versions
}

func TestBindNumbersPlaceholders(t *testing.T) {
	tests := []struct {
		name    string
		dialect *dialect
		query   string
		want    string
	}{
		{"sqlite keeps ?", &sqliteDialect, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = ? AND c = ?"},
		{"postgres numbers", &postgresDialect, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{"postgres without placeholders", &postgresDialect, "SELECT 1", "SELECT 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.dialect.bind(tt.query); got != tt.want {
				t.Errorf("bind(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	sqlite, err := loadMigrations(sqliteDialect.name)
	if err != nil {
		t.Fatalf("load sqlite migrations: %v", err)
	}
	postgres, err := loadMigrations(postgresDialect.name)
	if err != nil {
		t.Fatalf("load postgres migrations: %v", err)
	}
	if len(sqlite) != len(postgres) {
		t.Fatalf("sqlite has %d migrations, postgres %d, want the same versions", len(sqlite), len(postgres))
	}
	for i := range sqlite {
		if sqlite[i].name != postgres[i].name {
			t.Errorf("version %d is %s in sqlite and %s in postgres, want one name", i+1, sqlite[i].name, postgres[i].name)
		}
	}
}
