package records

import (
	"strconv"
	"strings"
)

// dialect holds what differs between the SQL databases a Store can use.
// Queries are written once with ? placeholders and rewritten by bind.
type dialect struct {
	// name is the dialect's name and the folder of its migrations.
	name string
	// numberedPlaceholders makes bind rewrite ? to $1, $2 and so on, as
	// PostgreSQL expects.
	numberedPlaceholders bool
	// noLimit is the LIMIT argument that returns every row.
	noLimit any
	// createMigrationsTable creates schema_migrations when missing.
	createMigrationsTable string
	// migrationLock is run first in every migration transaction to
	// serialise migrations across processes, or empty when beginning the
	// transaction already does.
	migrationLock string
	// lockRow ends a SELECT that locks its rows until the transaction
	// ends, or is empty when the transaction holds the write lock already.
	lockRow string
}

// migrationLockKey is the PostgreSQL advisory lock key that migrations
// take. It is an arbitrary constant: the bytes of "hlrecmig" read as a
// big-endian integer.
const migrationLockKey int64 = 0x686c7265636d6967

// sqliteDialect is the embedded SQLite database of one server. Its writer
// begins every transaction IMMEDIATE, which takes the database's write lock,
// so migrations and row changes need no lock of their own.
var sqliteDialect = dialect{
	name: "sqlite",
	// SQLite reads a negative LIMIT as no limit.
	noLimit: -1,
	createMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    applied_at TEXT    NOT NULL
) STRICT`,
}

// postgresDialect is a PostgreSQL database shared by several servers.
// pg_advisory_xact_lock holds the lock until the transaction ends, so two
// servers that start at once apply each migration once, in turn. The wait
// for that lock is bounded by the caller's context alone, because another
// node's migration may take longer than lock_timeout. The migration itself
// runs with lock_timeout again (DEFAULT is the connection's value), so a
// schema change that waits for a busy table fails instead of blocking every
// query behind it.
var postgresDialect = dialect{
	name:                 "postgres",
	numberedPlaceholders: true,
	// PostgreSQL reads LIMIT NULL as no limit.
	noLimit: nil,
	createMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    applied_at TEXT    NOT NULL
)`,
	lockRow: " FOR UPDATE",
	migrationLock: "SET LOCAL lock_timeout = 0; " +
		"SELECT pg_advisory_xact_lock(" + strconv.FormatInt(migrationLockKey, 10) + "); " +
		"SET LOCAL lock_timeout = DEFAULT",
}

// bind rewrites the ? placeholders of query for the dialect. Queries of
// this package hold no ? inside string literals, so every ? is a
// placeholder.
func (d *dialect) bind(query string) string {
	if !d.numberedPlaceholders || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
