package e2e

import (
	"strings"
	"testing"
)

// The server accepts the DSN's password, holds the helpline database and
// keeps what was written.
func TestStartPostgresServesDatabase(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)

	pg.Exec(t, PostgresDatabase, "CREATE TABLE probe (id int PRIMARY KEY, note text)")
	pg.Exec(t, PostgresDatabase, "INSERT INTO probe VALUES (1, 'written')")
	if got := pg.Exec(t, PostgresDatabase, "SELECT note FROM probe WHERE id = 1"); got != "written" {
		t.Errorf("SELECT = %q, want %q", got, "written")
	}

	if !strings.HasPrefix(pg.DSN(), "postgres://"+PostgresUser+":") || !strings.Contains(pg.DSN(), "/"+PostgresDatabase+"?") {
		t.Errorf("DSN = %q, want user %s and database %s", pg.DSN(), PostgresUser, PostgresDatabase)
	}
	if _, err := pg.psql(PostgresDatabase+"_missing", "SELECT 1"); err == nil {
		t.Errorf("psql on a database that does not exist succeeded")
	}
}
