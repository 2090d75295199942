package records

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
)

// Defaults of the spool, used when SpoolConfig leaves a value at zero.
const (
	// DefaultSpoolMaxRecords is how many writes the spool holds. A call
	// that reaches a counselor makes about 15 writes and one that ends in
	// the IVR about 5 (measured by the e2e test of a full records folder),
	// so 20,000 holds over 1,000 calls.
	DefaultSpoolMaxRecords = 20000
	// DefaultSpoolRetryInterval is the pause between two tries of the
	// oldest held write while the store fails.
	DefaultSpoolRetryInterval = 2 * time.Second
	// spoolWriteTimeout bounds one write of a held record to the store.
	spoolWriteTimeout = 10 * time.Second
	// maxRenameSuffix bounds the tries for a free record id when a held
	// call's id turns out to be taken, as Server.startRecordID does in
	// package sip for a call whose id it can check at once.
	maxRenameSuffix = 9
)

// SpoolTarget is the part of a Store the spool writes to. *Store
// implements it.
type SpoolTarget interface {
	Start(ctx context.Context, info StartInfo) error
	Update(ctx context.Context, callID string, p Patch) error
	AppendEvents(ctx context.Context, evs []events.Event) error
	Get(ctx context.Context, callID string) (Record, error)
}

// SpoolConfig sets up a Spool.
type SpoolConfig struct {
	// MaxRecords is how many writes the spool holds while the store fails:
	// one per call record start or update, one per event.
	// DefaultSpoolMaxRecords when zero.
	MaxRecords int
	// RetryInterval is the pause between two tries of the oldest held
	// write. DefaultSpoolRetryInterval when zero.
	RetryInterval time.Duration
	// Location names the storage in the log line of a failure, such as
	// the records folder.
	Location string
	// Fix is the operator's remedy that the log line of a failure names,
	// such as making the folder writable.
	Fix string
	// Logger receives the lines of a failure, a recovery and dropped
	// writes. The default discards them.
	Logger zerolog.Logger
	// Events receives records_unavailable and records_recovered. Nil
	// drops them.
	Events events.Publisher
	// FallbackDirs are the folders, tried in order, where Close saves the
	// writes still held when the store stays unavailable at shutdown, for
	// ReplayHeldFile to load at the next start. None means they are lost.
	FallbackDirs []string
	// Sealer encrypts the caller numbers of held starts in a fallback
	// file. The target is used when it implements NumberSealer.
	Sealer NumberSealer
}

// SpoolStats is a snapshot of the spool for readiness checks and metrics.
type SpoolStats struct {
	// Unavailable is set from the first failed write until the held
	// writes are all stored.
	Unavailable bool
	// Since is when the store started failing; zero while it works.
	Since time.Time
	// Depth is how many writes the spool holds now.
	Depth int
	// Max is the configured limit of Depth.
	Max int
	// Held counts every write the spool has taken since it was built.
	Held uint64
	// Dropped counts the writes lost because the spool was full, or
	// because the store rejected them when they were written back.
	Dropped uint64
	// LastError is the last failure of the store, nil while it works.
	LastError error
}

// Spool writes call records and events to a store, and holds them in
// memory, in order, while the store fails: a read-only or full records
// folder, or a PostgreSQL server that is down. Calls go on meanwhile. Run
// writes the held records back once the store works again, oldest first,
// and only then lets new writes go to the store directly.
//
// When the spool is full the newest writes are dropped, counted and logged
// once per outage. The spool then keeps a gap-free run of the oldest
// writes, and what is lost is the end of the outage, which the logs and
// the dropped count describe. A record whose start was stored but whose
// end was dropped stays open until the next start-up marks it interrupted.
//
// The held writes live in memory. Close saves those the store still does
// not take to a fallback file in SpoolConfig.FallbackDirs, which
// ReplayHeldFile loads at the next start. A crash or SIGKILL during an
// outage loses them.
type Spool struct {
	target SpoolTarget
	cfg    SpoolConfig
	log    zerolog.Logger
	now    func() time.Time
	// wake signals Run that the spool has writes to try.
	wake chan struct{}
	// done is closed when Run returns, and closing when Close starts.
	done      chan struct{}
	closing   chan struct{}
	closeOnce sync.Once
	running   atomic.Bool

	// drainMu lets one goroutine at a time write held records back, so
	// that Run and Close never write the same record twice.
	drainMu sync.Mutex

	mu sync.Mutex
	// pending are the held writes, oldest first; guarded by mu.
	pending []spoolWrite
	// depth is the number of writes in pending, events counted one by
	// one; guarded by mu.
	depth int
	// unavailable, since and lastErr describe the current outage; guarded
	// by mu.
	unavailable bool
	since       time.Time
	lastErr     error
	// droppedLogged is set once the current outage has logged a write
	// that the full spool dropped, and rejectedLogged once it has logged a
	// write the store rejected. Both are guarded by mu.
	droppedLogged  bool
	rejectedLogged bool
	// outageDropped counts the writes dropped in the current outage, by a
	// full spool or by the store's rejection; guarded by mu.
	outageDropped uint64
	// renamed maps a held call's id to the "~N" id it was stored under,
	// because its own id was taken by then; guarded by mu.
	renamed map[string]string

	held    atomic.Uint64
	dropped atomic.Uint64
}

// spoolWrite is one held write: a record start, a record update or a
// batch of events.
type spoolWrite struct {
	start  *StartInfo
	callID string
	patch  *Patch
	events []events.Event
}

// size is how many writes w counts for against SpoolConfig.MaxRecords.
func (w spoolWrite) size() int {
	if w.events != nil {
		return len(w.events)
	}
	return 1
}

// NewSpool builds a spool in front of target. Start Run before the first
// write, and call Close when the server stops.
func NewSpool(target SpoolTarget, cfg SpoolConfig) *Spool {
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = DefaultSpoolMaxRecords
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultSpoolRetryInterval
	}
	if cfg.Events == nil {
		cfg.Events = events.Nop{}
	}
	if sealer, ok := target.(NumberSealer); ok && cfg.Sealer == nil {
		cfg.Sealer = sealer
	}
	return &Spool{
		target:  target,
		cfg:     cfg,
		log:     cfg.Logger,
		now:     time.Now,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
		renamed: make(map[string]string),
	}
}

// Start writes the record of a new call, or holds it when the store fails
// or other writes are held. It returns ErrDuplicate, ErrInvalidInput or
// ErrClosed as Store.Start does when the store takes the write at once. A held
// start returns nil: its id is checked when it is written back, and a
// taken id then gets a "~N" suffix.
func (s *Spool) Start(ctx context.Context, info StartInfo) error {
	if info.CallID == "" {
		return fmt.Errorf("start call record: %w: empty call id", ErrInvalidInput)
	}
	if info.StartedAt.IsZero() {
		// A held start is written later, so it keeps the time it came.
		info.StartedAt = s.now()
	}
	return s.write(ctx, spoolWrite{start: &info, callID: info.CallID})
}

// Update writes a change of a call record, or holds it as Start does.
func (s *Spool) Update(ctx context.Context, callID string, p Patch) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("update call record %s: %w", callID, err)
	}
	held := p.clone()
	return s.write(ctx, spoolWrite{callID: callID, patch: &held})
}

// clone returns a copy of p that shares no pointer with it, so that a held
// patch keeps its values when the caller reuses its variables.
func (p Patch) clone() Patch {
	return Patch{
		AnsweredAt:          clonePointer(p.AnsweredAt),
		QueuedAt:            clonePointer(p.QueuedAt),
		CounselorAnsweredAt: clonePointer(p.CounselorAnsweredAt),
		EndedAt:             clonePointer(p.EndedAt),
		Digits:              clonePointer(p.Digits),
		Language:            clonePointer(p.Language),
		CallerType:          clonePointer(p.CallerType),
		Queue:               clonePointer(p.Queue),
		Counselor:           clonePointer(p.Counselor),
		TransferTarget:      clonePointer(p.TransferTarget),
		HangupReason:        clonePointer(p.HangupReason),
		QueueWait:           clonePointer(p.QueueWait),
		Outcome:             clonePointer(p.Outcome),
		HangupSide:          clonePointer(p.HangupSide),
		EmergencyTarget:     clonePointer(p.EmergencyTarget),
		Priority:            clonePointer(p.Priority),
	}
}

// clonePointer returns a pointer to a copy of *v, or nil for nil.
func clonePointer[T any](v *T) *T {
	if v == nil {
		return nil
	}
	copied := *v
	return &copied
}

// AppendEvents writes a batch of events, or holds it as Start does.
func (s *Spool) AppendEvents(ctx context.Context, evs []events.Event) error {
	if len(evs) == 0 {
		return nil
	}
	for _, e := range evs {
		if e.Type == "" {
			return fmt.Errorf("append event: %w: empty type", ErrInvalidInput)
		}
	}
	held := make([]events.Event, len(evs))
	for i, e := range evs {
		held[i] = e.Clone()
	}
	return s.write(ctx, spoolWrite{events: held})
}

// write sends w to the store when nothing is held, else holds it. A
// failure of the store itself starts an outage and holds w. A rejection
// of w itself (a duplicate id, a missing record) is returned.
func (s *Spool) write(ctx context.Context, w spoolWrite) error {
	s.mu.Lock()
	if s.unavailable {
		s.holdLocked(w)
		s.mu.Unlock()
		return nil
	}
	w = s.renameLocked(w)
	s.mu.Unlock()

	err := s.send(ctx, w)
	if err == nil || isRejection(err) {
		s.forgetIfEnded(w)
		return err
	}

	s.mu.Lock()
	started := s.startOutageLocked(err)
	s.holdLocked(w)
	s.mu.Unlock()
	if started {
		s.announceOutage(err)
	}
	s.signal()
	return nil
}

// send writes w to the store.
func (s *Spool) send(ctx context.Context, w spoolWrite) error {
	switch {
	case w.start != nil:
		return s.target.Start(ctx, *w.start)
	case w.patch != nil:
		return s.target.Update(ctx, w.callID, *w.patch)
	default:
		return s.target.AppendEvents(ctx, w.events)
	}
}

// startOutageLocked marks the store unavailable and reports whether this
// failure started the outage. The caller holds mu.
func (s *Spool) startOutageLocked(err error) bool {
	s.lastErr = err
	if s.unavailable {
		return false
	}
	s.unavailable = true
	s.since = s.now()
	s.droppedLogged = false
	s.rejectedLogged = false
	s.outageDropped = 0
	return true
}

// announceOutage logs the one line of an outage's start and publishes
// records_unavailable.
func (s *Spool) announceOutage(err error) {
	s.log.Error().Err(err).Str("location", s.cfg.Location).Int("spool_max_records", s.cfg.MaxRecords).
		Msg("records store unavailable: holding call records and events in memory until it works again; " + s.cfg.Fix)
	s.cfg.Events.Publish(events.Event{Type: events.RecordsUnavailable, Data: map[string]string{
		"location": s.cfg.Location,
	}})
}

// holdLocked appends w to the held writes, or drops it when the spool is
// full. The caller holds mu.
func (s *Spool) holdLocked(w spoolWrite) {
	if s.depth+w.size() > s.cfg.MaxRecords {
		s.dropped.Add(uint64(w.size()))
		s.outageDropped += uint64(w.size())
		if !s.droppedLogged {
			s.droppedLogged = true
			s.log.Error().Int("spool_max_records", s.cfg.MaxRecords).Str("location", s.cfg.Location).
				Msg("records spool full: newer call records and events are dropped until the store works again; raise records.spool.max_records or bring the store back")
		}
		return
	}
	s.pending = append(s.pending, w)
	s.depth += w.size()
	s.held.Add(uint64(w.size()))
}

// renameLocked points an update at the id its call was stored under. The
// caller holds mu.
func (s *Spool) renameLocked(w spoolWrite) spoolWrite {
	if w.patch == nil {
		return w
	}
	if id, ok := s.renamed[w.callID]; ok {
		w.callID = id
	}
	return w
}

// forgetIfEnded drops the rename of a call once its end is written.
func (s *Spool) forgetIfEnded(w spoolWrite) {
	if w.patch == nil || w.patch.EndedAt == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for original, id := range s.renamed {
		if id == w.callID {
			delete(s.renamed, original)
		}
	}
}

// signal wakes Run.
func (s *Spool) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run writes the held records back while the store fails, trying the
// oldest every RetryInterval, until ctx ends or Close is called.
func (s *Spool) Run(ctx context.Context) {
	s.running.Store(true)
	defer close(s.done)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-s.closing:
			stop()
		case <-ctx.Done():
		}
	}()

	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		s.drain(ctx)
	}
}

// drain writes the held records in order until none is left or ctx ends.
func (s *Spool) drain(ctx context.Context) {
	for {
		done, err := s.writeOldest()
		if done {
			return
		}
		if err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.RetryInterval):
		}
	}
}

// writeOldest writes the oldest held record. It reports done when nothing
// is held any more, which ends the outage, and returns the store's failure
// when the write should be tried again.
func (s *Spool) writeOldest() (done bool, err error) {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()

	s.mu.Lock()
	if len(s.pending) == 0 {
		ended, outage := s.endOutageLocked()
		s.mu.Unlock()
		if ended {
			s.announceRecovery(outage)
		}
		return true, nil
	}
	w := s.renameLocked(s.pending[0])
	s.mu.Unlock()

	ctx, stop := context.WithTimeout(context.Background(), spoolWriteTimeout)
	err = s.writeBack(ctx, w)
	stop()
	if err != nil && !isRejection(err) {
		s.mu.Lock()
		s.lastErr = err
		s.mu.Unlock()
		return false, err
	}
	if err != nil {
		s.logRejected(w, err)
	}
	s.forgetIfEnded(w)

	s.mu.Lock()
	s.pending[0] = spoolWrite{}
	s.pending = s.pending[1:]
	s.depth -= w.size()
	s.mu.Unlock()
	return false, nil
}

// logRejected counts a held write that the store rejected when it was
// written back, and logs the first of each outage as an error and the
// others at debug level, so that one cause cannot flood the log.
func (s *Spool) logRejected(w spoolWrite, err error) {
	s.dropped.Add(uint64(w.size()))
	s.mu.Lock()
	s.outageDropped += uint64(w.size())
	first := !s.rejectedLogged
	s.rejectedLogged = true
	s.mu.Unlock()

	event := s.log.Debug()
	if first {
		event = s.log.Error()
	}
	event.Err(err).Str("call_id", w.callID).Int("writes", w.size()).
		Msg("held call record rejected by the records store when written back; dropped")
}

// writeBack writes a held record. A held start whose id is taken is
// either the same start, stored by an earlier try whose response was lost,
// or another call's, in which case it is stored under a free "~N" id.
//
// NOTE: a batch of events whose commit succeeded but timed out before the
// response is stored again when retried, because events carry no key to
// match. An update retried that way only writes the same values again.
func (s *Spool) writeBack(ctx context.Context, w spoolWrite) error {
	err := s.send(ctx, w)
	if w.start == nil || !errors.Is(err, ErrDuplicate) {
		return err
	}

	if s.storedAlready(ctx, *w.start) {
		return nil
	}
	info := *w.start
	for n := 2; n <= maxRenameSuffix; n++ {
		info.CallID = fmt.Sprintf("%s~%d", w.start.CallID, n)
		err = s.target.Start(ctx, info)
		if errors.Is(err, ErrDuplicate) {
			continue
		}
		if err == nil {
			s.mu.Lock()
			s.renamed[w.start.CallID] = info.CallID
			s.mu.Unlock()
			s.log.Warn().Str("call_id", w.start.CallID).Str("record_id", info.CallID).
				Msg("held call record's id was taken by an earlier record: stored under a new id")
		}
		return err
	}
	return fmt.Errorf("write back call record %s: no free record id after %d tries: %w", w.start.CallID, maxRenameSuffix, ErrDuplicate)
}

// storedAlready reports whether the record of info is in the store with
// the same start time and source, as an earlier try left it.
func (s *Spool) storedAlready(ctx context.Context, info StartInfo) bool {
	rec, err := s.target.Get(ctx, info.CallID)
	return err == nil && rec.StartedAt.Equal(info.StartedAt) && rec.Source == info.Source
}

// endOutageLocked marks the store available again. It reports whether an
// outage ended, and returns its length and the writes it dropped. The
// caller holds mu.
func (s *Spool) endOutageLocked() (bool, outageSummary) {
	if !s.unavailable {
		return false, outageSummary{}
	}
	s.unavailable = false
	s.lastErr = nil
	// The emptied slice may have grown large during the outage.
	s.pending = nil
	return true, outageSummary{lasted: s.now().Sub(s.since), dropped: s.outageDropped}
}

// outageSummary is the length and the dropped count of one outage, for
// the recovery line.
type outageSummary struct {
	lasted  time.Duration
	dropped uint64
}

// announceRecovery logs the one line of an outage's end and publishes
// records_recovered.
func (s *Spool) announceRecovery(outage outageSummary) {
	s.log.Info().Str("location", s.cfg.Location).Dur("outage", outage.lasted).Uint64("dropped", outage.dropped).
		Msg("records store works again: held call records and events written")
	s.cfg.Events.Publish(events.Event{Type: events.RecordsRecovered, Data: map[string]string{
		"location":       s.cfg.Location,
		"outage_seconds": strconv.FormatInt(int64(outage.lasted.Seconds()), 10),
		"dropped":        strconv.FormatUint(outage.dropped, 10),
	}})
}

// Stats returns a snapshot of the spool.
func (s *Spool) Stats() SpoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SpoolStats{
		Unavailable: s.unavailable,
		Since:       s.since,
		Depth:       s.depth,
		Max:         s.cfg.MaxRecords,
		Held:        s.held.Load(),
		Dropped:     s.dropped.Load(),
		LastError:   s.lastErr,
	}
}

// Close stops Run, then tries to write the held records until ctx ends.
// Those still unwritten then are saved to a fallback file, or logged as
// lost when no fallback folder takes them. It returns ctx's error when
// records were left unwritten.
func (s *Spool) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	if s.running.Load() {
		<-s.done
	}
	s.announceShutdownWait(ctx)
	for {
		done, err := s.writeOldest()
		if done {
			return nil
		}
		if err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			s.saveAtShutdown()
			return ctx.Err()
		case <-time.After(s.cfg.RetryInterval):
		}
	}
}

// announceShutdownWait logs, before the first try, that shutdown waits for
// the store because writes are held, so the wait is not silent.
func (s *Spool) announceShutdownWait(ctx context.Context) {
	stats := s.Stats()
	if stats.Depth == 0 {
		return
	}
	wait := "until the shutdown deadline"
	if deadline, ok := ctx.Deadline(); ok {
		wait = "up to " + time.Until(deadline).Round(time.Second).String()
	}
	s.log.Warn().Err(stats.LastError).Int("held", stats.Depth).Str("location", s.cfg.Location).
		Msg("records store unavailable at shutdown: waiting " + wait + " for it to take the held call records and events before stopping; " +
			"those it does not take are saved to a fallback file and loaded at the next start")
}

// saveAtShutdown saves the writes still held to a fallback file and logs
// where, or logs them as lost when no folder takes the file.
func (s *Spool) saveAtShutdown() {
	stats := s.Stats()
	path, writes, err := s.saveHeld()
	if err != nil {
		s.log.Error().Err(err).AnErr("store_error", stats.LastError).Int("lost", stats.Depth).Str("location", s.cfg.Location).
			Strs("fallback_dirs", s.cfg.FallbackDirs).
			Msg("records store still unavailable at shutdown and saving the held call records to a fallback file failed: they are lost; make records.spool.fallback_dir writable")
		return
	}
	msg := "records store still unavailable at shutdown: held call records and events saved to a fallback file; " +
		"the next start loads it into the records before marking open calls interrupted, or run: helpline records replay " + path
	if s.savedToTempDir(path) {
		msg += ". The first fallback folder could not be written, so the file is in the system's temporary folder, which may be cleared on reboot: " +
			"move the file beside the records, or set records.spool.fallback_dir to a folder on another disk"
	}
	s.log.Error().Err(stats.LastError).Int("writes", writes).Str("file", path).Str("location", s.cfg.Location).Msg(msg)
}
