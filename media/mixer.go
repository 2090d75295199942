package media

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Sentinel errors of the mixer.
var (
	// ErrParticipantExists means Add was given an id already in the mix.
	ErrParticipantExists = errors.New("participant already in the mix")
	// ErrMixerClosed means the mixer's Run has returned.
	ErrMixerClosed = errors.New("mixer closed")
)

// mixerCatchUp is how far the mixer may fall behind its 20 ms schedule,
// after a stall of the process, before it drops the missed ticks and
// starts a new schedule from now instead of sending a burst.
const mixerCatchUp = 5 * FrameDuration

// Mixer mixes the audio of several G.711 sessions, as in a conference or
// while a supervisor listens in. Every 20 ms, paced by the monotonic clock,
// it reads one frame of each participant's incoming audio from a jitter
// buffer (silence where packets are missing), and sends each participant
// the saturated sum of the participants that it hears, encoded in its own
// codec. Who hears whom is a matrix that SetHears changes at any time.
// Nobody hears themselves, and a participant hears nobody until SetHears
// says otherwise.
//
// A participant's session is taken over while it is in the mix: the mixer
// holds its sender slot, as Bridge does, so Play and Bridge on it wait.
// Telephone events the participant sends still reach the session's
// Digits. A Mixer is safe for concurrent use.
type Mixer struct {
	log zerolog.Logger

	// mu guards parties, hears and closed. The mixing tick holds it for a
	// whole frame, so changes take effect between two frames.
	mu      sync.Mutex
	parties []*mixParty
	// hears maps a listener's id to the ids it hears.
	hears  map[string][]string
	closed bool

	// sum is the mixing buffer of one listener, owned by the tick.
	sum [FrameSamples]int32
	out [FrameSamples]int16
}

// mixParty is one participant of a mix.
type mixParty struct {
	id      string
	session *Session
	input   *jitterBuffer
	// release gives the session's sender slot back.
	release func()
	// frame is this tick's audio from the participant, owned by the tick.
	frame [FrameSamples]int16
	// timestamp is the RTP timestamp of the next frame sent to the
	// participant, and sent is false until the first one.
	timestamp uint32
	sent      bool
	// clip is what remains of a clip that PlayTo mixes into what this
	// participant hears. The mixer's mu guards it.
	clip []int16
}

// NewMixer returns an empty mixer. Call Run to start mixing.
func NewMixer(log zerolog.Logger) *Mixer {
	return &Mixer{log: log, hears: make(map[string][]string)}
}

// Add puts session in the mix under id. It waits for the session's sender
// slot, as Play does, until ctx ends. The participant hears whom the
// matrix says for id, which may be set before Add.
func (m *Mixer) Add(ctx context.Context, id string, session *Session) error {
	if codec, law, _ := session.format(); law == lawNone {
		return fmt.Errorf("adding %q to the mix: %s: %w", id, codec.Name, ErrUnsupportedCodec)
	}
	if err := m.checkAdd(id); err != nil {
		return err
	}

	release, err := session.acquireSender(ctx)
	if err != nil {
		return fmt.Errorf("adding %q to the mix: %w", id, err)
	}
	party := &mixParty{id: id, session: session, input: &jitterBuffer{}, release: release}

	m.mu.Lock()
	if err := m.checkAddLocked(id); err != nil {
		m.mu.Unlock()
		release()
		return err
	}
	m.parties = append(m.parties, party)
	m.mu.Unlock()

	session.setMixInput(party.input)
	m.log.Debug().Str("participant", id).Stringer("local", session.local).Msg("participant joined the mix")
	return nil
}

func (m *Mixer) checkAdd(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.checkAddLocked(id)
}

func (m *Mixer) checkAddLocked(id string) error {
	if m.closed {
		return ErrMixerClosed
	}
	for _, p := range m.parties {
		if p.id == id {
			return fmt.Errorf("adding %q: %w", id, ErrParticipantExists)
		}
	}
	return nil
}

// Remove takes a participant out of the mix and gives its session back:
// the session stops feeding the mix and its sender slot is free for Play
// or Bridge. Its row of the matrix stays. Removing an unknown id does
// nothing.
func (m *Mixer) Remove(id string) {
	m.mu.Lock()
	index := slices.IndexFunc(m.parties, func(p *mixParty) bool { return p.id == id })
	if index < 0 {
		m.mu.Unlock()
		return
	}
	party := m.parties[index]
	m.parties = slices.Delete(m.parties, index, index+1)
	m.mu.Unlock()

	party.session.setMixInput(nil)
	party.release()
	m.log.Debug().Str("participant", id).Msg("participant left the mix")
}

// SetHears sets whom listener hears, replacing the earlier list. Ids not in
// the mix, and listener itself, are skipped while mixing.
func (m *Mixer) SetHears(listener string, speakers ...string) {
	m.mu.Lock()
	m.hears[listener] = slices.Clone(speakers)
	m.mu.Unlock()
}

// Hears returns whom listener hears.
func (m *Mixer) Hears(listener string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.hears[listener])
}

// PlayTo mixes clip into what participant id hears, from the next frame
// on, as a tone or prompt that only this participant hears. It replaces a
// clip still playing to id, and returns false when id is not in the mix.
func (m *Mixer) PlayTo(id string, clip *Audio) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	party := m.party(id)
	if party == nil {
		return false
	}
	party.clip = nil
	if clip != nil {
		party.clip = clip.Samples
	}
	return true
}

// Participants returns the ids in the mix, in the order they joined.
func (m *Mixer) Participants() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, len(m.parties))
	for i, p := range m.parties {
		ids[i] = p.id
	}
	return ids
}

// Run mixes one frame every 20 ms until ctx ends, then removes every
// participant and returns ctx.Err(). Frame n is due at start + n×20 ms on
// the monotonic clock. A tick more than 100 ms late starts a new schedule.
func (m *Mixer) Run(ctx context.Context) error {
	defer m.close()

	timer := time.NewTimer(FrameDuration)
	defer timer.Stop()
	start := time.Now()
	for n := 1; ; n++ {
		due := start.Add(time.Duration(n) * FrameDuration)
		if late := time.Since(due); late > mixerCatchUp {
			m.log.Debug().Dur("late", late).Msg("mixer fell behind, restarting its schedule")
			start, n = time.Now(), 0
			continue
		}

		// Since Go 1.23 Reset also discards an unreceived value, so no
		// drain is needed.
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		m.tick(time.Now())
	}
}

// close removes every participant and refuses new ones.
func (m *Mixer) close() {
	m.mu.Lock()
	m.closed = true
	ids := make([]string, len(m.parties))
	for i, p := range m.parties {
		ids[i] = p.id
	}
	m.mu.Unlock()

	for _, id := range ids {
		m.Remove(id)
	}
}

// tick mixes and sends one frame to every participant. It allocates
// nothing.
func (m *Mixer) tick(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()

	for _, p := range m.parties {
		p.input.read(p.frame[:])
	}
	for _, listener := range m.parties {
		m.mixFor(listener)
		m.send(listener, now)
	}
}

// mixFor sums, into m.out, the frames of the participants that listener
// hears and the next frame of a clip played to it, clipped to the int16
// range.
func (m *Mixer) mixFor(listener *mixParty) {
	clear(m.sum[:])
	for _, id := range m.hears[listener.id] {
		if id == listener.id {
			continue
		}
		speaker := m.party(id)
		if speaker == nil {
			continue
		}
		for i, sample := range speaker.frame {
			m.sum[i] += int32(sample)
		}
	}
	if len(listener.clip) > 0 {
		n := min(len(listener.clip), FrameSamples)
		for i, sample := range listener.clip[:n] {
			m.sum[i] += int32(sample)
		}
		listener.clip = listener.clip[n:]
	}
	for i, total := range m.sum {
		m.out[i] = saturate(total)
	}
}

// party returns the participant with id, or nil. A linear search is
// fastest for the handful of participants a mix has.
func (m *Mixer) party(id string) *mixParty {
	for _, p := range m.parties {
		if p.id == id {
			return p
		}
	}
	return nil
}

// send encodes m.out in the listener's codec and sends it as the next
// frame of the listener's outbound stream. The first frame starts a
// talkspurt that continues the session's timestamps.
func (m *Mixer) send(listener *mixParty, now time.Time) {
	session := listener.session
	marker := !listener.sent
	if marker {
		session.outMu.Lock()
		listener.timestamp = session.out.talkspurtTimestamp(now)
		session.outMu.Unlock()
		listener.sent = true
	}
	session.sendFrame(m.out[:], listener.timestamp, marker)
	listener.timestamp += FrameSamples
}

// saturate clips a sum of samples to the int16 range.
func saturate(total int32) int16 {
	switch {
	case total > math.MaxInt16:
		return math.MaxInt16
	case total < math.MinInt16:
		return math.MinInt16
	default:
		return int16(total)
	}
}

// setMixInput makes the receive goroutine write the session's incoming
// audio into input, or stop when input is nil.
func (s *Session) setMixInput(input *jitterBuffer) {
	s.relayMu.Lock()
	s.mixInput = input
	s.relayMu.Unlock()
}
