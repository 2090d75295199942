package records

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

const (
	// maxPostgresConns caps the connections one Store opens to PostgreSQL,
	// so that many nodes stay under the server's max_connections (100 by
	// default).
	maxPostgresConns = 8
	// postgresConnMaxIdle closes connections idle that long, so a quiet
	// node gives its connections back.
	postgresConnMaxIdle = 5 * time.Minute
	// applicationName shows the server's connections in pg_stat_activity.
	applicationName = "helpline"
)

// OpenPostgres opens the records database in PostgreSQL at dsn (a URL such
// as postgres://user:password@host:5432/db?sslmode=verify-full, or
// key=value pairs) and migrates its schema to the latest embedded version.
// Several nodes may open and migrate one database at once. It fails with
// ErrSchemaTooNew for a database a newer release has migrated, and with
// ErrNoKey for the zero Key. Errors and logs never show the password.
func OpenPostgres(ctx context.Context, dsn string, key Key, opts ...Option) (*Store, error) {
	o := buildOptions(opts)

	numbers, err := newNumberCipher(key)
	if err != nil {
		return nil, fmt.Errorf("open records database: %w", err)
	}
	migrations, err := loadMigrations(postgresDialect.name)
	if err != nil {
		return nil, fmt.Errorf("open records database: %w", err)
	}
	config, err := parsePostgresDSN(dsn, o.busyTimeout)
	if err != nil {
		return nil, err
	}

	location := postgresLocation(config)
	db := stdlib.OpenDB(*config)
	db.SetMaxOpenConns(maxPostgresConns)
	db.SetMaxIdleConns(maxPostgresConns)
	db.SetConnMaxIdleTime(postgresConnMaxIdle)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("connect to records database %s: %w", location, err), db.Close())
	}

	s := &Store{
		dialect: &postgresDialect, location: location,
		writer: db, reader: db,
		numbers: numbers, log: o.log, now: o.now,
	}
	if err := s.migrateSchema(ctx, migrations); err != nil {
		return nil, err
	}
	return s, nil
}

// parsePostgresDSN reads dsn and sets the session settings of every
// connection: lock_timeout from busyTimeout and the application name.
func parsePostgresDSN(dsn string, busyTimeout time.Duration) (*pgx.ConnConfig, error) {
	config, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error quotes the connection string, and its password
		// is redacted only on a best-effort basis, so only the cause is
		// kept.
		cause := errors.Unwrap(err)
		if cause == nil {
			cause = errors.New("malformed connection string")
		}
		return nil, fmt.Errorf("parse the records PostgreSQL connection string (records.postgres.dsn_env): %w", cause)
	}
	if config.RuntimeParams == nil {
		config.RuntimeParams = map[string]string{}
	}
	config.RuntimeParams["lock_timeout"] = strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	if _, set := config.RuntimeParams["application_name"]; !set {
		config.RuntimeParams["application_name"] = applicationName
	}
	return config, nil
}

// postgresLocation names the database for logs: host, port and database,
// without user or password.
func postgresLocation(config *pgx.ConnConfig) string {
	return "postgres://" + config.Host + ":" + strconv.Itoa(int(config.Port)) + "/" + config.Database
}
