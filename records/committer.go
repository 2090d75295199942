package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// defaultMaxBatch caps the writes one SQLite transaction commits together,
// which bounds how long a write waits for the others in its batch. A full
// batch of call-record writes is, by estimate, a few milliseconds of work.
const defaultMaxBatch = 128

// txFunc is one write: it runs its statements in tx with ctx. It returns
// its values by setting variables of the caller's closure.
type txFunc func(ctx context.Context, tx *sql.Tx) error

// States of a writeJob. Only a pending job moves on, to started (by the
// committer) or to cancelled (by its caller), so exactly one side wins.
const (
	jobPending int32 = iota
	jobStarted
	jobCancelled
)

// writeJob is one caller's write waiting in the committer's queue.
type writeJob struct {
	ctx   context.Context
	fn    txFunc
	state atomic.Int32
	// err is the job's result and panicValue what fn panicked with, if
	// it did. Both are set before done is closed.
	err        error
	panicValue any
	done       chan struct{}
}

// finish stores err as the job's result and wakes its caller.
func (j *writeJob) finish(err error) {
	j.err = err
	close(j.done)
}

// committer owns the SQLite writer connection after Open and commits the
// writes of concurrent callers together (group commit). With
// synchronous=FULL every commit waits for an fsync, so one commit of many
// writes takes about as long as one commit of a single write.
//
// It takes the first queued write and every write already waiting behind
// it, up to maxBatch, and runs them in one transaction, each inside its own
// savepoint. A write that fails is rolled back to its savepoint and
// reported to its caller alone. The batch then commits once, and every
// caller returns after that commit.
type committer struct {
	db       *sql.DB
	maxBatch int
	// stmts keeps the statements of the writes prepared.
	stmts *stmtCache
	// wake holds a signal while the queue may have jobs or Close waits.
	wake chan struct{}
	// stopped is closed when the run loop has returned.
	stopped chan struct{}

	// mu guards queue and closing.
	mu      sync.Mutex
	queue   []*writeJob
	closing bool
}

// startCommitter starts the goroutine that commits the writes to db.
// Stop it with close.
func startCommitter(db *sql.DB, maxBatch int) *committer {
	if maxBatch < 1 {
		maxBatch = 1
	}
	c := &committer{
		db:       db,
		maxBatch: maxBatch,
		stmts:    newStmtCache(db, maxCachedStatements),
		wake:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}
	go c.run()
	return c
}

// do queues fn and waits until its batch commits. It returns fn's error,
// or the error of beginning or committing the batch. A caller whose ctx
// ends while fn is still queued gets ctx's error and fn never runs. Once fn
// has started, it runs to the commit with ctx's values but without its
// cancellation, because cancelling one statement could roll back the whole
// batch, and do returns the job's result. After close, do returns
// ErrClosed.
func (c *committer) do(ctx context.Context, fn txFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	job := &writeJob{ctx: ctx, fn: fn, done: make(chan struct{})}
	if err := c.enqueue(job); err != nil {
		return err
	}

	select {
	case <-job.done:
	case <-ctx.Done():
		if job.state.CompareAndSwap(jobPending, jobCancelled) {
			return ctx.Err()
		}
		<-job.done
	}

	// A panic in fn is raised again here, in the caller's goroutine, as
	// it was before writes moved to the committer.
	if job.panicValue != nil {
		panic(job.panicValue)
	}
	return job.err
}

// enqueue adds job to the queue and wakes the run loop.
func (c *committer) enqueue(job *writeJob) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	c.queue = append(c.queue, job)
	c.mu.Unlock()

	c.signal()
	return nil
}

// signal wakes the run loop unless a wake-up is already pending.
func (c *committer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close stops taking writes, commits every write already queued and waits
// for the run loop to return. A second call only waits.
func (c *committer) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()

	c.signal()
	<-c.stopped
}

// run commits batches until close was called and the queue is empty.
func (c *committer) run() {
	defer close(c.stopped)
	defer c.stmts.close()
	for {
		batch, closing := c.takeBatch()
		if len(batch) > 0 {
			c.commitBatch(batch)
			// The connection is free between transactions.
			c.stmts.prepareNoted()
			continue
		}
		if closing {
			return
		}
		<-c.wake
	}
}

// takeBatch removes up to maxBatch jobs from the front of the queue and
// reports whether close was called.
func (c *committer) takeBatch() ([]*writeJob, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()

	n := min(len(c.queue), c.maxBatch)
	batch := make([]*writeJob, n)
	copy(batch, c.queue)
	// Clear the taken slots so the queue's array holds no finished job.
	clear(c.queue[:n])
	c.queue = c.queue[n:]
	if len(c.queue) == 0 {
		c.queue = nil
	}
	return batch, c.closing
}

// commitBatch commits batch in one transaction, or in several when a
// failed write takes the transaction down with it.
func (c *committer) commitBatch(batch []*writeJob) {
	for len(batch) > 0 {
		batch = c.commitSome(batch)
	}
}

// commitSome runs the jobs of batch in one transaction until all have run,
// commits, and finishes every job that ran. SQLite rolls back the whole
// transaction on some errors (a full disk, an I/O error). When a job's
// error did that, the jobs that ran before it lost their writes: they get
// an error the spool treats as a store failure, and the jobs not yet run
// are returned for a new transaction.
func (c *committer) commitSome(batch []*writeJob) (rest []*writeJob) {
	// The transaction ignores every caller's context, so one caller
	// giving up never rolls back the others' writes.
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		failPending(batch, fmt.Errorf("begin records transaction: %w", err))
		return nil
	}

	var ran []*writeJob
	for i, job := range batch {
		if !job.state.CompareAndSwap(jobPending, jobStarted) {
			continue
		}
		jobErr, lostErr := c.runJob(tx, job)
		if lostErr != nil {
			job.finish(errors.Join(jobErr, lostErr))
			failJobs(ran, fmt.Errorf("records transaction rolled back by a failed write in the same batch: %w", lostErr))
			// Rollback only releases the connection: the transaction
			// is gone already.
			_ = tx.Rollback()
			return batch[i+1:]
		}
		job.err = jobErr
		ran = append(ran, job)
	}

	// The migrations create no deferred constraints (a test checks), so
	// a commit fails only when the store does (a full disk, an I/O
	// error). The spool holds such a write and tries it again rather than
	// dropping it.
	if err := tx.Commit(); err != nil {
		failJobs(ran, fmt.Errorf("commit records transaction: %w", err))
		return nil
	}
	for _, job := range ran {
		job.finish(job.err)
	}
	return nil
}

// runJob runs job inside a savepoint of tx. jobErr is the job's own error,
// after which its statements are rolled back. lostErr is set when the
// savepoint could not be rolled back or released, which means SQLite ended
// the whole transaction.
func (c *committer) runJob(tx *sql.Tx, job *writeJob) (jobErr, lostErr error) {
	ctx := context.WithoutCancel(job.ctx)
	if _, err := c.stmts.exec(ctx, tx, `SAVEPOINT write_job`); err != nil {
		return nil, fmt.Errorf("begin records savepoint: %w", err)
	}

	jobErr = callJob(ctx, tx, job)
	if jobErr != nil {
		if _, err := c.stmts.exec(ctx, tx, `ROLLBACK TO write_job`); err != nil {
			return jobErr, fmt.Errorf("roll back records savepoint: %w", err)
		}
	}
	if _, err := c.stmts.exec(ctx, tx, `RELEASE write_job`); err != nil {
		return jobErr, fmt.Errorf("release records savepoint: %w", err)
	}
	return jobErr, nil
}

// callJob runs job's function. A panic becomes the job's error, so the
// committer goes on with the batch, and is kept for do to raise again.
func callJob(ctx context.Context, tx *sql.Tx, job *writeJob) (err error) {
	defer func() {
		if r := recover(); r != nil {
			job.panicValue = r
			err = fmt.Errorf("records write panicked: %v", r)
		}
	}()
	return job.fn(ctx, tx)
}

// failJobs finishes every job in ran, which all started, with err, except
// a job whose own write failed, which keeps its own error.
func failJobs(ran []*writeJob, err error) {
	for _, job := range ran {
		if job.err != nil {
			job.finish(job.err)
			continue
		}
		job.finish(err)
	}
}

// failPending finishes every job of batch that its caller has not given up
// on with err, without running it.
func failPending(batch []*writeJob, err error) {
	for _, job := range batch {
		if job.state.CompareAndSwap(jobPending, jobStarted) {
			job.finish(err)
		}
	}
}
