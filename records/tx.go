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
// succeeds. fn must use the ctx and tx it is given alone: on SQLite the
// writer has one connection, so a statement on s.writer inside fn would wait
// for the transaction forever.
//
// On SQLite fn runs in the committer's next batch, inside a savepoint that
// is rolled back when fn fails, and inTx returns after the batch commits.
// Once fn has started it runs to the commit even if the caller's ctx ends,
// so its ctx carries the caller's values without the cancellation.
func (s *Store) inTx(ctx context.Context, fn txFunc) error {
	if s.committer != nil {
		return s.committer.do(ctx, fn)
	}

	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin records transaction: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		return errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit records transaction: %w", err)
	}
	return nil
}

// txExec runs a statement in tx, with placeholders bound for the dialect.
// On SQLite tx is the committer's, and the statement is kept prepared.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s.committer != nil {
		return s.committer.stmts.exec(ctx, tx, s.dialect.bind(query), args...)
	}
	return tx.ExecContext(ctx, s.dialect.bind(query), args...)
}

// txQueryRow runs a query for one row in tx.
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	return tx.QueryRowContext(ctx, s.dialect.bind(query), args...)
}
