package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	// Registers the pure-Go SQLite driver as "sqlite".
	_ "modernc.org/sqlite"
)

const (
	driverName = "sqlite"
	// dirMode and fileMode keep the records, which hold personal data,
	// away from other local users.
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
	// groupOtherBits are the permission bits that let group or others reach
	// a file.
	groupOtherBits fs.FileMode = 0o077
	// maxReaders caps the read connections. WAL lets them read while the
	// writer writes.
	maxReaders = 4
)

// Open opens the SQLite records database at path and migrates its schema to the
// latest embedded version. It creates the file (mode 0600) and its parent
// folder (mode 0700) when missing. It fails with ErrSchemaTooNew for a
// database a newer release has migrated, and with ErrNoKey for the zero Key.
func Open(ctx context.Context, path string, key Key, opts ...Option) (*Store, error) {
	o := buildOptions(opts)

	numbers, err := newNumberCipher(key)
	if err != nil {
		return nil, fmt.Errorf("open records database: %w", err)
	}
	migrations, err := loadMigrations(sqliteDialect.name)
	if err != nil {
		return nil, fmt.Errorf("open records database: %w", err)
	}
	if err := prepareFile(path, o.log); err != nil {
		return nil, err
	}

	s := &Store{dialect: &sqliteDialect, location: path, numbers: numbers, log: o.log, now: o.now}
	if err := s.openPools(ctx, o.busyTimeout); err != nil {
		return nil, err
	}
	// Migrations use the writer directly, before the committer owns it.
	if err := s.migrateSchema(ctx, migrations); err != nil {
		return nil, err
	}
	s.committer = startCommitter(s.writer, o.maxBatch)
	return s, nil
}

// prepareFile creates the parent folder and an empty database file with
// owner-only modes. An existing file that group or others can reach is
// tightened to 0600, with a warning.
func prepareFile(path string, log zerolog.Logger) error {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return fmt.Errorf("create records folder: %w", err)
	}

	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("open records database file: %w", err)
	}
	info, err := file.Stat()
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("check records database file %s: %w", path, err)
	}

	// Windows reports synthetic permission bits, so the check is Unix only.
	if runtime.GOOS == "windows" || info.Mode().Perm()&groupOtherBits == 0 {
		return nil
	}
	if err := os.Chmod(path, fileMode); err != nil {
		return fmt.Errorf("restrict records database file %s to mode 0600: %w", path, err)
	}
	log.Warn().Str("path", path).Str("old_mode", fmt.Sprintf("%04o", info.Mode().Perm())).
		Msg("records database file was readable by group or others; set mode 0600")
	return nil
}

// openPools opens the writer connection and the reader pool. The writer
// turns on WAL, which is a property of the file, so it connects first.
func (s *Store) openPools(ctx context.Context, busyTimeout time.Duration) error {
	writer, err := sql.Open(driverName, dataSourceName(s.location, busyTimeout, false))
	if err != nil {
		return fmt.Errorf("open records database %s: %w", s.location, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		return errors.Join(fmt.Errorf("open records database %s: %w", s.location, err), writer.Close())
	}

	reader, err := sql.Open(driverName, dataSourceName(s.location, busyTimeout, true))
	if err != nil {
		return errors.Join(fmt.Errorf("open records database %s for reading: %w", s.location, err), writer.Close())
	}
	reader.SetMaxOpenConns(maxReaders)
	reader.SetMaxIdleConns(maxReaders)
	if err := reader.PingContext(ctx); err != nil {
		return errors.Join(fmt.Errorf("open records database %s for reading: %w", s.location, err), reader.Close(), writer.Close())
	}

	s.writer, s.reader = writer, reader
	return nil
}

// dataSourceName builds the file: URI for the modernc.org/sqlite driver.
// Every connection waits busyTimeout for locks and enforces foreign keys.
// The writer also turns on WAL, syncs every commit to disk
// (synchronous=FULL, so a committed step survives a power cut) and begins
// transactions IMMEDIATE, taking the write lock up front. Reader
// connections are query-only.
func dataSourceName(path string, busyTimeout time.Duration, readOnly bool) string {
	query := url.Values{}
	query.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	query.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		query.Add("_pragma", "query_only(1)")
	} else {
		query.Add("_pragma", "journal_mode(WAL)")
		query.Add("_pragma", "synchronous(FULL)")
		query.Set("_txlock", "immediate")
	}

	absolute, err := filepath.Abs(path)
	if err != nil {
		absolute = path
	}
	uri := url.URL{Scheme: "file", Path: filepath.ToSlash(absolute), RawQuery: query.Encode()}
	return uri.String()
}

// checkpoint copies the write-ahead log into the database file and
// truncates the log, so that the file alone holds every record. Commits are
// already durable in the log, so a checkpoint that another process's reader
// blocks loses nothing and is only logged.
func (s *Store) checkpoint() error {
	var busy, logFrames, checkpointed int
	err := s.writer.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`).
		Scan(&busy, &logFrames, &checkpointed)
	if err != nil {
		return fmt.Errorf("checkpoint records database %s: %w", s.location, err)
	}
	if busy != 0 {
		s.log.Debug().Str("path", s.location).Int("log_frames", logFrames).Int("checkpointed", checkpointed).
			Msg("records checkpoint incomplete because another connection is reading")
	}
	return nil
}
