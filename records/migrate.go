package records

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema changes, one file per version, named
// NNNN_description.sql. Versions start at 1 and have no gaps.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned by Open for a database that a newer helpline
// has migrated past the latest version embedded in this binary.
var ErrSchemaTooNew = errors.New("records database schema is newer than this binary")

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    applied_at TEXT    NOT NULL
) STRICT`

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations in version order and checks
// that the versions run 1, 2, 3 and so on.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}

	migrations := make([]migration, 0, len(entries))
	for _, entry := range entries {
		m, err := readMigration(entry.Name())
		if err != nil {
			return nil, err
		}
		migrations = append(migrations, m)
	}

	sort.Slice(migrations, func(i, j int) bool { return migrations[i].version < migrations[j].version })
	for i, m := range migrations {
		if m.version != i+1 {
			return nil, fmt.Errorf("embedded migration %s has version %d, want %d: versions must start at 1 without gaps",
				m.name, m.version, i+1)
		}
	}
	return migrations, nil
}

// readMigration reads one embedded file and takes its version from the
// digits before the first underscore of its name.
func readMigration(name string) (migration, error) {
	prefix, _, found := strings.Cut(name, "_")
	version, err := strconv.Atoi(prefix)
	if !found || err != nil || version < 1 {
		return migration{}, fmt.Errorf("embedded migration %s: name must start with a positive version and an underscore", name)
	}

	content, err := migrationFiles.ReadFile(path.Join("migrations", name))
	if err != nil {
		return migration{}, fmt.Errorf("read embedded migration %s: %w", name, err)
	}
	return migration{version: version, name: name, sql: string(content)}, nil
}

// migrate brings the schema up to the latest embedded version, one
// transaction per migration, and returns the versions it applied. Another
// process may migrate the same file at the same time: each transaction
// takes the write lock first (the writer connection begins IMMEDIATE) and
// then skips a version that is already recorded.
func migrate(ctx context.Context, db *sql.DB, migrations []migration, now time.Time) ([]int, error) {
	if _, err := db.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations table: %w", err)
	}

	current, err := schemaVersion(ctx, db)
	if err != nil {
		return nil, err
	}
	latest := len(migrations)
	if current > latest {
		return nil, fmt.Errorf("%w: the database is at schema version %d but this binary knows versions up to %d; run a helpline release at least as new as the one that wrote it",
			ErrSchemaTooNew, current, latest)
	}

	var applied []int
	for _, m := range migrations[current:] {
		done, err := applyMigration(ctx, db, m, now)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// schemaVersion returns the highest applied migration, or 0 for a new file.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var version int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("read records schema version: %w", err)
	}
	return version, nil
}

// applyMigration runs one migration and records it in one transaction. It
// returns false when another process recorded the version first.
func applyMigration(ctx context.Context, db *sql.DB, m migration, now time.Time) (applied bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin migration %s: %w", m.name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()

	var exists int
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("check migration %s: %w", m.name, err)
	}
	if exists > 0 {
		return false, rollback(tx)
	}

	if _, err = tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("apply migration %s: %w", m.name, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.version, now.UTC().Format(time.RFC3339))
	if err != nil {
		return false, fmt.Errorf("record migration %s: %w", m.name, err)
	}
	if err = tx.Commit(); err != nil {
		return false, fmt.Errorf("commit migration %s: %w", m.name, err)
	}
	return true, nil
}

// rollback ends tx, treating an already finished transaction as success.
func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("roll back records transaction: %w", err)
	}
	return nil
}
