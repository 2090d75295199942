package pgtest

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartServesFreshDatabases(t *testing.T) {
	srv := Start(t)
	first := openDB(t, srv.NewDatabase(t))
	second := openDB(t, srv.NewDatabase(t))

	if _, err := first.Exec(`CREATE TABLE marks (id INTEGER)`); err != nil {
		t.Fatalf("create table in the first database: %v", err)
	}
	var count int
	err := second.QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'marks'`).Scan(&count)
	if err != nil {
		t.Fatalf("look for the table in the second database: %v", err)
	}
	if count != 0 {
		t.Errorf("second database has %d tables named marks, want 0: databases are shared", count)
	}
}

func TestDatabaseNameIsValidIdentifier(t *testing.T) {
	name := databaseName("TestVeryLong/sub test with spaces and UPPER case " + strings.Repeat("x", 80))
	if len(name) > maxIdentifier {
		t.Errorf("name %q has %d bytes, want at most %d", name, len(name), maxIdentifier)
	}
	if nameUnsafe.MatchString(name) {
		t.Errorf("name %q has characters outside [a-z0-9_]", name)
	}
}

func TestFindBinDirHasBothBinaries(t *testing.T) {
	dir := BinDir(t)
	for _, name := range []string{"initdb", "postgres"} {
		if !isExecutable(filepath.Join(dir, name)) {
			t.Errorf("%s is not executable in %s", name, dir)
		}
	}
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("ping %s: %v", dsn, err)
	}
	return db
}
