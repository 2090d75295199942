package records

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
)

const (
	// heldFilePrefix and heldFileSuffix frame the name of a fallback
	// file, so that FindHeldFiles finds only those.
	heldFilePrefix = "helpline-held-records-"
	heldFileSuffix = ".jsonl"
	// ReplayedSuffix is appended to a fallback file's name once its
	// writes are all in the store.
	ReplayedSuffix = ".done"
	// heldFileMode keeps a fallback file to the server's user, because
	// it contains call details.
	heldFileMode = 0o600
	// heldDirMode is the mode of a fallback folder the spool creates.
	heldDirMode = 0o700
	// maxHeldLine bounds one line of a fallback file when it is read.
	maxHeldLine = 16 << 20
)

// ErrHeldFile is wrapped by the errors of a fallback file that cannot be
// read back.
var ErrHeldFile = errors.New("invalid held records file")

// ErrHeldFileReplayed is returned for a fallback file whose name ends in
// ReplayedSuffix, because a replay already loaded its writes.
var ErrHeldFileReplayed = errors.New("held records file already loaded into the records")

// NumberSealer encrypts and decrypts a caller number the way the records
// store keeps it, bound to its call id. *Store implements it.
type NumberSealer interface {
	SealNumber(callID, number string) []byte
	OpenNumber(callID string, sealed []byte) (string, error)
}

// SealNumber encrypts a caller number with the records key, bound to
// callID, as Start stores it.
func (s *Store) SealNumber(callID, number string) []byte {
	return s.numbers.seal(callID, number)
}

// OpenNumber decrypts what SealNumber returned for the same callID.
func (s *Store) OpenNumber(callID string, sealed []byte) (string, error) {
	return s.numbers.open(callID, sealed)
}

// heldLine is one held write in a fallback file. Exactly one of Start,
// Patch and Events is set.
type heldLine struct {
	Start  *heldStart     `json:"start,omitempty"`
	CallID string         `json:"call_id,omitempty"`
	Patch  *Patch         `json:"patch,omitempty"`
	Events []events.Event `json:"events,omitempty"`
}

// heldStart is a StartInfo whose caller number is sealed with the records
// key, so that a fallback file contains no plaintext number.
type heldStart struct {
	CallID         string    `json:"call_id"`
	Source         string    `json:"source"`
	CalledNumber   string    `json:"called_number"`
	CallerSealed   []byte    `json:"caller_sealed,omitempty"`
	CallerWithheld bool      `json:"caller_withheld"`
	StartedAt      time.Time `json:"started_at"`
	Node           string    `json:"node,omitempty"`
}

// encodeHeld turns w into a fallback file line, sealing its caller number.
func encodeHeld(w spoolWrite, sealer NumberSealer) ([]byte, error) {
	line := heldLine{CallID: w.callID, Patch: w.patch, Events: w.events}
	if w.start != nil {
		info := *w.start
		start := &heldStart{CallID: info.CallID, Source: info.Source, CalledNumber: info.CalledNumber,
			CallerWithheld: info.CallerWithheld, StartedAt: info.StartedAt, Node: info.Node}
		if !info.CallerWithheld && info.CallerNumber != "" {
			if sealer == nil {
				return nil, fmt.Errorf("save held call record %s: no records key to seal its caller number", info.CallID)
			}
			start.CallerSealed = sealer.SealNumber(info.CallID, info.CallerNumber)
		}
		line.Start = start
	}
	return json.Marshal(line)
}

// decodeHeld turns a fallback file line back into a held write.
func decodeHeld(data []byte, sealer NumberSealer) (spoolWrite, error) {
	var line heldLine
	if err := json.Unmarshal(data, &line); err != nil {
		return spoolWrite{}, err
	}
	switch {
	case line.Start != nil:
		info := StartInfo{CallID: line.Start.CallID, Source: line.Start.Source, CalledNumber: line.Start.CalledNumber,
			CallerWithheld: line.Start.CallerWithheld, StartedAt: line.Start.StartedAt, Node: line.Start.Node}
		if len(line.Start.CallerSealed) > 0 {
			number, err := sealer.OpenNumber(info.CallID, line.Start.CallerSealed)
			if err != nil {
				return spoolWrite{}, err
			}
			info.CallerNumber = number
		}
		return spoolWrite{start: &info, callID: info.CallID}, nil
	case line.Patch != nil:
		if line.CallID == "" {
			return spoolWrite{}, errors.New("update without call_id")
		}
		return spoolWrite{callID: line.CallID, patch: line.Patch}, nil
	case len(line.Events) > 0:
		return spoolWrite{events: line.Events}, nil
	default:
		return spoolWrite{}, errors.New("invalid held line: it has no start, patch or events")
	}
}

// saveHeld writes the held writes to a new fallback file in the first of
// dirs that takes it, and returns its path and its number of writes, one
// per line, as ReplayResult.Writes counts them. The file is complete or
// absent: it is written under a temporary name and renamed.
func (s *Spool) saveHeld() (string, int, error) {
	s.mu.Lock()
	pending := make([]spoolWrite, len(s.pending))
	for i, w := range s.pending {
		pending[i] = s.renameLocked(w)
	}
	depth := s.depth
	s.mu.Unlock()

	var data bytes.Buffer
	for _, w := range pending {
		line, err := encodeHeld(w, s.cfg.Sealer)
		if err != nil {
			return "", 0, err
		}
		data.Write(line)
		data.WriteByte('\n')
	}

	name := heldFilePrefix + s.now().UTC().Format("20060102T150405.000000000Z") + heldFileSuffix
	var failures []error
	for _, dir := range s.cfg.FallbackDirs {
		path := filepath.Join(dir, name)
		err := writeFileAtomic(path, data.Bytes())
		if err == nil {
			s.forgetSaved(len(pending), depth)
			return path, len(pending), nil
		}
		failures = append(failures, err)
	}
	if len(failures) == 0 {
		return "", 0, errors.New("no fallback folder configured (records.spool.fallback_dir)")
	}
	return "", 0, errors.Join(failures...)
}

// savedToTempDir reports whether the fallback file at path went to the
// system's temporary folder because the first fallback folder failed.
func (s *Spool) savedToTempDir(path string) bool {
	dir := filepath.Dir(path)
	first := s.cfg.FallbackDirs[0]
	return filepath.Clean(dir) != filepath.Clean(first) && inTempDir(dir)
}

// inTempDir reports whether dir is the system's temporary folder or inside
// it.
func inTempDir(dir string) bool {
	rel, err := filepath.Rel(filepath.Clean(os.TempDir()), filepath.Clean(dir))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// forgetSaved drops the oldest count held writes, of depth writes in all,
// once a fallback file contains them, so that a later Close does not
// store them a second time.
func (s *Spool) forgetSaved(count, depth int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.pending[:count])
	s.pending = s.pending[count:]
	s.depth -= depth
}

// writeFileAtomic creates path with data, mode heldFileMode, through a
// temporary file in the same folder, which it creates when missing.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, heldDirMode); err != nil {
		return fmt.Errorf("create fallback folder %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".held-*.tmp")
	if err != nil {
		return fmt.Errorf("create fallback file in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(heldFileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("set mode of fallback file %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write fallback file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync fallback file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close fallback file %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename fallback file to %s: %w", path, err)
	}
	return nil
}

// FindHeldFiles lists the fallback files in dirs that were not replayed
// yet, oldest first. A missing folder holds none.
func FindHeldFiles(dirs []string) ([]string, error) {
	var found []string
	seen := make(map[string]bool)
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list fallback folder %s: %w", dir, err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasPrefix(name, heldFilePrefix) || !strings.HasSuffix(name, heldFileSuffix) {
				continue
			}
			path := filepath.Join(dir, name)
			if abs, err := filepath.Abs(path); err == nil && !seen[abs] {
				seen[abs] = true
				found = append(found, path)
			}
		}
	}
	// The names carry the UTC time of the save, so they sort by age.
	sort.Slice(found, func(i, j int) bool { return filepath.Base(found[i]) < filepath.Base(found[j]) })
	return found, nil
}

// ReplayTarget is the store that ReplayHeldFile writes to. *Store implements it.
type ReplayTarget interface {
	SpoolTarget
	NumberSealer
	// CountEventRows returns how many stored events match the time, type,
	// call, counselor and queue of an event.
	CountEventRows(ctx context.Context, e events.Event) (int, error)
}

// ReplayResult counts what ReplayHeldFile did.
type ReplayResult struct {
	// Writes is how many held writes the file contained, one per line.
	Writes int
	// Rejected is how many of them the store rejected, such as an update
	// of a record that does not exist.
	Rejected int
	// SkippedEvents is how many held events the store already contained,
	// so the replay did not insert them again.
	SkippedEvents int
}

// ReplayHeldFile writes the held writes of a fallback file into target, in
// order, and then renames the file with ReplayedSuffix. A start already
// stored by an earlier replay is skipped, and one whose id another call
// took is stored under a "~N" id, as the spool does. When the store fails
// part-way, the file is rewritten to hold only the writes not yet stored,
// so a second replay stores none twice. A held event whose row the store
// already contains is skipped, so a copy of a loaded file adds no events.
// A path ending in ReplayedSuffix fails with ErrHeldFileReplayed.
//
// NOTE: the event check matches on time, type, call, counselor and queue,
// not on the event's data, so two held events that differ only in data
// count as one when the first is already stored.
func ReplayHeldFile(ctx context.Context, target ReplayTarget, path string, log zerolog.Logger) (ReplayResult, error) {
	if strings.HasSuffix(path, ReplayedSuffix) {
		return ReplayResult{}, fmt.Errorf("replay %s: %w, because its name ends in %s, so nothing is left to load",
			path, ErrHeldFileReplayed, ReplayedSuffix)
	}
	lines, err := readHeldLines(path)
	if err != nil {
		return ReplayResult{}, err
	}
	writes := make([]spoolWrite, len(lines))
	for i, line := range lines {
		w, err := decodeHeld(line, target)
		if err != nil {
			return ReplayResult{}, fmt.Errorf("%w %s line %d: %w", ErrHeldFile, path, i+1, err)
		}
		writes[i] = w
	}

	result := ReplayResult{Writes: len(writes)}
	replayer := NewSpool(target, SpoolConfig{Logger: log})
	for i, w := range writes {
		replayer.mu.Lock()
		w = replayer.renameLocked(w)
		replayer.mu.Unlock()

		var err error
		if w.events != nil {
			var skipped int
			w.events, skipped, err = unstoredEvents(ctx, target, w.events)
			result.SkippedEvents += skipped
		}
		if err == nil {
			err = replayer.writeBack(ctx, w)
		}
		if err != nil && !isRejection(err) {
			if keepErr := keepUnreplayed(path, lines[i:]); keepErr != nil {
				return result, errors.Join(fmt.Errorf("replay %s: %w", path, err), keepErr)
			}
			return result, fmt.Errorf("replay %s: stopped at write %d of %d, the rest stays in the file: %w", path, i+1, len(writes), err)
		}
		if err != nil {
			result.Rejected++
			log.Warn().Err(err).Str("call_id", w.callID).Str("file", path).Msg("held write rejected by the records store at replay; skipped")
		}
		replayer.forgetIfEnded(w)
	}
	if result.SkippedEvents > 0 {
		log.Warn().Int("skipped_events", result.SkippedEvents).Str("file", path).
			Msg("held events already in the records were not inserted again, because this file or a copy of it was loaded before")
	}

	if err := os.Rename(path, path+ReplayedSuffix); err != nil {
		return result, fmt.Errorf("replayed %s but could not rename it to %s%s, remove it by hand so it is not replayed again: %w",
			path, path, ReplayedSuffix, err)
	}
	return result, nil
}

// unstoredEvents returns the events of evs that the store does not
// contain yet, and how many it left out. A key held n times in the store
// leaves out its first n events in evs, so distinct events that share a
// key are still inserted.
func unstoredEvents(ctx context.Context, target ReplayTarget, evs []events.Event) ([]events.Event, int, error) {
	type eventKey struct {
		at                               int64
		kind, callID, counselorID, queue string
	}
	stored := make(map[eventKey]int)
	kept := make([]events.Event, 0, len(evs))
	for _, e := range evs {
		if e.At.IsZero() {
			kept = append(kept, e)
			continue
		}
		key := eventKey{e.At.UnixNano(), string(e.Type), e.CallID, e.CounselorID, e.Queue}
		remaining, seen := stored[key]
		if !seen {
			count, err := target.CountEventRows(ctx, e)
			if err != nil {
				return nil, 0, err
			}
			remaining = count
		}
		if remaining > 0 {
			stored[key] = remaining - 1
			continue
		}
		stored[key] = 0
		kept = append(kept, e)
	}
	return kept, len(evs) - len(kept), nil
}

// readHeldLines returns the non-empty lines of a fallback file.
func readHeldLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open held records file: %w", err)
	}
	defer f.Close()

	var lines [][]byte
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64<<10), maxHeldLine)
	for scanner.Scan() {
		line := bytes.TrimSpace(scanner.Bytes())
		if len(line) > 0 {
			lines = append(lines, append([]byte(nil), line...))
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrHeldFile, path, err)
	}
	return lines, nil
}

// keepUnreplayed rewrites path to hold only lines.
func keepUnreplayed(path string, lines [][]byte) error {
	var data bytes.Buffer
	for _, line := range lines {
		data.Write(line)
		data.WriteByte('\n')
	}
	if err := writeFileAtomic(path, data.Bytes()); err != nil {
		return fmt.Errorf("keep the writes not replayed in %s: %w", path, err)
	}
	return nil
}
