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

// migrationFiles holds the schema changes of each dialect in its own folder
// (migrations/sqlite, migrations/postgres), one file per version, named
// NNNN_description.sql. Versions start at 1 and have no gaps, and a version
// makes the same change in both dialects.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned by Open for a database that a newer helpline
// has migrated past the latest version embedded in this binary.
var ErrSchemaTooNew = errors.New("records database schema is newer than this binary")

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations of a dialect in version
// order and checks that the versions run 1, 2, 3 and so on.
func loadMigrations(dialectName string) ([]migration, error) {
	folder := path.Join("migrations", dialectName)
	entries, err := fs.ReadDir(migrationFiles, folder)
	if err != nil {
		return nil, fmt.Errorf("read embedded %s migrations: %w", dialectName, err)
	}

	migrations := make([]migration, 0, len(entries))
	for _, entry := range entries {
		m, err := readMigration(folder, entry.Name())
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

// readMigration reads one embedded file of folder and takes its version
// from the digits before the first underscore of its name.
func readMigration(folder, name string) (migration, error) {
	prefix, _, found := strings.Cut(name, "_")
	version, err := strconv.Atoi(prefix)
	if !found || err != nil || version < 1 {
		return migration{}, fmt.Errorf("embedded migration %s: name must start with a positive version and an underscore", name)
	}

	content, err := migrationFiles.ReadFile(path.Join(folder, name))
	if err != nil {
		return migration{}, fmt.Errorf("read embedded migration %s: %w", name, err)
	}
	return migration{version: version, name: name, sql: string(content)}, nil
}

// migrate brings the schema up to the latest embedded version, one
// transaction per migration, and returns the versions it applied. Another
// process may migrate the same database at the same time: each transaction
// first takes the dialect's lock (SQLite's write lock, taken by beginning
// IMMEDIATE, or a PostgreSQL advisory lock) and then skips a version that is
// already recorded.
func migrate(ctx context.Context, db *sql.DB, d *dialect, migrations []migration, now time.Time) ([]int, error) {
	err := inMigrationTx(ctx, db, d, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.createMigrationsTable)
		return err
	})
	if err != nil {
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
		done, err := applyMigration(ctx, db, d, m, now)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// inMigrationTx runs fn in a transaction that holds the dialect's migration
// lock, and commits when fn succeeds.
func inMigrationTx(ctx context.Context, db *sql.DB, d *dialect, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()

	if d.migrationLock != "" {
		if _, err = tx.ExecContext(ctx, d.migrationLock); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
	}
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
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
func applyMigration(ctx context.Context, db *sql.DB, d *dialect, m migration, now time.Time) (bool, error) {
	applied := false
	err := inMigrationTx(ctx, db, d, func(tx *sql.Tx) error {
		var exists int
		err := tx.QueryRowContext(ctx, d.bind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&exists)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		if exists > 0 {
			return nil
		}

		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		_, err = tx.ExecContext(ctx, d.bind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
			m.version, now.UTC().Format(time.RFC3339))
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		applied = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	return applied, nil
}

// rollback ends tx, treating an already finished transaction as success.
func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("roll back records transaction: %w", err)
	}
	return nil
}
