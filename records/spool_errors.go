package records

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteRejections are the SQLite primary result codes that reject one
// statement for its values, which a retry cannot change.
var sqliteRejections = map[int]bool{
	sqlite3.SQLITE_CONSTRAINT: true,
	sqlite3.SQLITE_MISMATCH:   true,
	sqlite3.SQLITE_RANGE:      true,
	sqlite3.SQLITE_TOOBIG:     true,
}

// postgresRejectionClasses are the SQLSTATE classes that reject one
// statement for its values or its text: data exceptions (22), integrity
// constraint violations (23) and syntax errors or access rule violations
// (42).
var postgresRejectionClasses = map[string]bool{"22": true, "23": true, "42": true}

// sqlitePrimaryCodeMask keeps the primary result code of an extended one.
const sqlitePrimaryCodeMask = 0xff

// isRejection reports whether err rejects one write, which trying again
// cannot change, rather than a failure of the store such as a full disk, a
// read-only folder or a lost connection. The spool drops a rejected write
// and goes on with the next: held back, it would block every later write.
func isRejection(err error) bool {
	if errors.Is(err, ErrDuplicate) || errors.Is(err, ErrNotFound) ||
		errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrClosed) {
		return true
	}

	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteRejections[sqliteErr.Code()&sqlitePrimaryCodeMask]
	}
	var postgresErr *pgconn.PgError
	if errors.As(err, &postgresErr) && len(postgresErr.Code) >= 2 {
		return postgresRejectionClasses[postgresErr.Code[:2]]
	}
	return false
}
