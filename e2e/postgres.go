package e2e

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the pgx driver for database/sql

	"helpline/internal/pgtest"
)

// RecordsDSNEnv is the environment variable that carries the records DSN,
// the default of records.postgres.dsn_env.
const RecordsDSNEnv = "HELPLINE_RECORDS_DSN"

// postgresQueryTimeout bounds each query of Exec.
const postgresQueryTimeout = 30 * time.Second

// Postgres is a PostgreSQL server with one empty database for the nodes of
// a test, started by StartPostgres.
type Postgres struct {
	// Server is the running server, stopped when the test ends.
	Server *pgtest.Server

	dsn string
}

// StartPostgres runs a PostgreSQL server on a free port of 127.0.0.1 with
// internal/pgtest (which runs it as an unprivileged user when the tests
// run as root) and creates an empty database for the test. It fails or
// skips the test like RequireTool when PostgreSQL is not installed.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	srv := pgtest.Start(t)
	return &Postgres{Server: srv, dsn: srv.NewDatabase(t)}
}

// DSN returns the connection string of the test's database.
func (p *Postgres) DSN() string { return p.dsn }

// DSNEnv returns RecordsDSNEnv=DSN, for a node's environment.
func (p *Postgres) DSNEnv() string { return RecordsDSNEnv + "=" + p.dsn }

// Exec runs one SQL statement in the test's database and returns the
// first column of the first row, or "" for a statement without rows.
func (p *Postgres) Exec(t testing.TB, query string) string {
	t.Helper()
	db, err := sql.Open("pgx", p.dsn)
	if err != nil {
		t.Fatalf("open the test database: %v", err)
	}
	defer db.Close()

	ctx, stop := context.WithTimeout(context.Background(), postgresQueryTimeout)
	defer stop()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("SQL %q: %v", query, err)
	}
	defer rows.Close()
	var first string
	if rows.Next() {
		if err := rows.Scan(&first); err != nil {
			t.Fatalf("SQL %q: read the first row: %v", query, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("SQL %q: %v", query, err)
	}
	return first
}
