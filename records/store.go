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
	"sync"
	"sync/atomic"
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
	// defaultBusyTimeout is how long a write waits for another process
	// (such as an export run while the server is up) to release the
	// database lock before failing.
	defaultBusyTimeout = 5 * time.Second
	// maxReaders caps the read connections. WAL lets them read while the
	// writer writes.
	maxReaders = 4
)

// ErrClosed is returned by a Store method called after Close.
var ErrClosed = errors.New("records store is closed")

// Store is the call records database. Its methods are safe for concurrent
// use. Writes go through a single connection, so this process never holds
// two write locks and concurrent updates wait in line instead of failing
// with SQLITE_BUSY. Reads use a separate pool and run beside the writes.
type Store struct {
	path    string
	writer  *sql.DB
	reader  *sql.DB
	numbers *numberCipher
	log     zerolog.Logger
	now     func() time.Time

	closed    atomic.Bool
	closeOnce sync.Once
}

// Option changes how Open sets up a Store.
type Option func(*options)

type options struct {
	log         zerolog.Logger
	busyTimeout time.Duration
	now         func() time.Time
}

// WithLogger sets the logger for opening, migrations, closing and records
// that fail to decrypt. The default discards everything.
func WithLogger(log zerolog.Logger) Option {
	return func(o *options) { o.log = log }
}

// WithBusyTimeout sets how long a statement waits for a lock held by another
// process before it fails. The default is 5 seconds.
func WithBusyTimeout(timeout time.Duration) Option {
	return func(o *options) { o.busyTimeout = timeout }
}

// WithClock sets the clock for UpdatedAt, for migration times and for a
// StartInfo without StartedAt. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Open opens the records database at path and migrates its schema to the
// latest embedded version. It creates the file (mode 0600) and its parent
// folder (mode 0700) when missing. It fails with ErrSchemaTooNew for a
// database a newer release has migrated, and with ErrNoKey for the zero Key.
func Open(ctx context.Context, path string, key Key, opts ...Option) (*Store, error) {
	o := options{log: zerolog.Nop(), busyTimeout: defaultBusyTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}

	numbers, err := newNumberCipher(key)
	if err != nil {
		return nil, fmt.Errorf("open records database: %w", err)
	}
	migrations, err := loadMigrations()
	if err != nil {
		return nil, fmt.Errorf("open records database: %w", err)
	}
	if err := prepareFile(path, o.log); err != nil {
		return nil, err
	}

	s := &Store{path: path, numbers: numbers, log: o.log, now: o.now}
	if err := s.openPools(ctx, o.busyTimeout); err != nil {
		return nil, err
	}

	applied, err := migrate(ctx, s.writer, migrations, o.now())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("migrate records database %s: %w", path, err), s.closePools())
	}
	if len(applied) > 0 {
		s.log.Info().Str("path", path).Ints("versions", applied).Msg("records schema migrated")
	}
	s.log.Info().Str("path", path).Int("schema_version", len(migrations)).Msg("records database opened")
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
	writer, err := sql.Open(driverName, dataSourceName(s.path, busyTimeout, false))
	if err != nil {
		return fmt.Errorf("open records database %s: %w", s.path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		return errors.Join(fmt.Errorf("open records database %s: %w", s.path, err), writer.Close())
	}

	reader, err := sql.Open(driverName, dataSourceName(s.path, busyTimeout, true))
	if err != nil {
		return errors.Join(fmt.Errorf("open records database %s for reading: %w", s.path, err), writer.Close())
	}
	reader.SetMaxOpenConns(maxReaders)
	reader.SetMaxIdleConns(maxReaders)
	if err := reader.PingContext(ctx); err != nil {
		return errors.Join(fmt.Errorf("open records database %s for reading: %w", s.path, err), reader.Close(), writer.Close())
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

// Close checkpoints the write-ahead log into the database file and closes
// the connections, waiting for running statements to finish. A second call
// does nothing and returns nil.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		err = errors.Join(s.checkpoint(), s.closePools())
		if err != nil {
			s.log.Error().Err(err).Str("path", s.path).Msg("records database close failed")
			return
		}
		s.log.Info().Str("path", s.path).Msg("records database closed")
	})
	return err
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
		return fmt.Errorf("checkpoint records database %s: %w", s.path, err)
	}
	if busy != 0 {
		s.log.Debug().Str("path", s.path).Int("log_frames", logFrames).Int("checkpointed", checkpointed).
			Msg("records checkpoint incomplete because another connection is reading")
	}
	return nil
}

// closePools closes the reader pool and the writer connection.
func (s *Store) closePools() error {
	var errs []error
	if s.reader != nil {
		if err := s.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close records reader: %w", err))
		}
	}
	if err := s.writer.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close records writer: %w", err))
	}
	return errors.Join(errs...)
}

// checkOpen returns ErrClosed after Close.
func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}
