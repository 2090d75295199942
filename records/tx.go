package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// querier is the query method shared by *sql.DB and *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// inTx runs fn in one transaction on the writer and commits when fn
// succeeds. On SQLite the writer has one connection, so fn must use tx
// alone: a statement on s.writer inside fn would wait for the transaction
// forever.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin records transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit records transaction: %w", err)
	}
	return nil
}

// txExec runs a statement in tx, with placeholders bound for the dialect.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	return tx.ExecContext(ctx, s.dialect.bind(query), args...)
}

// txQueryRow runs a query for one row in tx.
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	return tx.QueryRowContext(ctx, s.dialect.bind(query), args...)
}
