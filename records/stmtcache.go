package records

import (
	"context"
	"database/sql"
	"slices"
	"sync"
)

// maxCachedStatements caps the statements the committer keeps prepared.
// The writes of a running server use a few dozen distinct statements (each
// record patch shape is one), so the cap only matters if some caller ever
// built statements from data.
const maxCachedStatements = 256

// stmtCache keeps the committer's write statements prepared on the writer
// connection, so that a call record write binds and runs a statement
// instead of parsing its SQL again. In a profile of the setup benchmark
// at 600 calls/s, parsing was about a fifth of the committer's CPU time.
//
// A statement cannot be prepared on the writer while a transaction holds
// its only connection: database/sql would wait for that connection
// forever. So a statement seen for the first time runs unprepared, is
// noted, and is prepared by prepareNoted once the transaction has ended.
type stmtCache struct {
	db  *sql.DB
	max int

	// mu guards stmts and noted. Only the committer's goroutine uses the
	// cache today, and the lock keeps it safe if that changes.
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	noted []string
}

// newStmtCache returns an empty cache for statements on db, which must
// have a single connection, holding at most max statements.
func newStmtCache(db *sql.DB, max int) *stmtCache {
	return &stmtCache{db: db, max: max, stmts: make(map[string]*sql.Stmt)}
}

// exec runs query with args in tx, which must be a transaction on the
// cache's db. It uses the prepared statement when there is one, and
// otherwise runs query as it is and notes it for prepareNoted.
func (c *stmtCache) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if stmt := c.lookup(query); stmt != nil {
		// The statement was prepared on the transaction's connection,
		// so StmtContext reuses it without preparing again.
		return tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// lookup returns the prepared statement of query, or nil after noting
// query to be prepared.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stmt := c.stmts[query]; stmt != nil {
		return stmt
	}
	if len(c.stmts)+len(c.noted) < c.max && !slices.Contains(c.noted, query) {
		c.noted = append(c.noted, query)
	}
	return nil
}

// prepareNoted prepares the statements noted since the last call. Call it
// only while no transaction holds the connection. A statement that fails
// to prepare stays unprepared: its writes run as before.
func (c *stmtCache) prepareNoted() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, query := range c.noted {
		if c.stmts[query] != nil {
			continue
		}
		stmt, err := c.db.PrepareContext(context.Background(), query)
		if err != nil {
			continue
		}
		c.stmts[query] = stmt
	}
	c.noted = c.noted[:0]
}

// size returns how many statements are prepared.
func (c *stmtCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmts)
}

// close closes every prepared statement. Call it before the db closes.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for query, stmt := range c.stmts {
		// A statement that fails to close is freed with its connection.
		_ = stmt.Close()
		delete(c.stmts, query)
	}
	c.noted = nil
}
