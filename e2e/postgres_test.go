package e2e

import (
	"strings"
	"testing"
)

// The server holds the test's database and keeps what was written.
func TestStartPostgresServesDatabase(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)

	pg.Exec(t, "CREATE TABLE probe (id int PRIMARY KEY, note text)")
	pg.Exec(t, "INSERT INTO probe VALUES (1, 'written')")
	if got := pg.Exec(t, "SELECT note FROM probe WHERE id = 1"); got != "written" {
		t.Errorf("SELECT = %q, want %q", got, "written")
	}
	if !strings.HasPrefix(pg.DSNEnv(), RecordsDSNEnv+"=postgres://") {
		t.Errorf("DSNEnv = %q, want %s=postgres://...", pg.DSNEnv(), RecordsDSNEnv)
	}
}
