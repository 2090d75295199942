package media

import (
	"context"
	"time"
)

// Play sends a clip to the peer in 20 ms packets coded with the session's
// codec, the last partial frame padded with silence. Packet n is sent at
// start + n×20 ms on the monotonic clock, so pacing does not drift. A late
// packet is sent at once and the following ones keep the original
// schedule. The first packet carries the marker bit, and timestamps step
// by 160 samples.
//
// Play returns nil once the clip has played to its end, ctx.Err() when ctx
// ends first, and ErrSessionClosed when the session is closed. It waits
// while another Play, PlayLoop or Bridge sends on the session.
func (s *Session) Play(ctx context.Context, a *Audio) error {
	if s.currentLaw() == lawNone {
		return ErrUnsupportedCodec
	}
	release, err := s.acquireSender(ctx)
	if err != nil {
		return err
	}
	defer release()

	return s.playFrames(ctx, &framer{first: a})
}

// PlayLoop sends first once and then loop over and over, as one
// continuous talkspurt, until ctx ends; it then returns ctx.Err(). Either
// clip may be nil or empty. With no loop clip, the session sends nothing
// after first until ctx ends. Like Play, it waits while another sender is
// active and returns ErrSessionClosed when the session is closed.
func (s *Session) PlayLoop(ctx context.Context, first, loop *Audio) error {
	if s.currentLaw() == lawNone {
		return ErrUnsupportedCodec
	}
	release, err := s.acquireSender(ctx)
	if err != nil {
		return err
	}
	defer release()

	if err := s.playFrames(ctx, &framer{first: first, loop: loop}); err != nil {
		return err
	}

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrSessionClosed
	}
}

// playFrames sends the framer's frames on the 20 ms schedule and returns
// when the last one has finished playing.
func (s *Session) playFrames(ctx context.Context, frames *framer) error {
	timer := time.NewTimer(FrameDuration)
	defer timer.Stop()

	start := time.Now()
	s.outMu.Lock()
	baseTimestamp := s.out.talkspurtTimestamp(start)
	s.outMu.Unlock()

	for n := 0; ; n++ {
		due := start.Add(time.Duration(n) * FrameDuration)
		if err := s.waitUntil(ctx, timer, due); err != nil {
			return err
		}

		samples, ok := frames.next()
		if !ok {
			return nil
		}
		timestamp := baseTimestamp + uint32(n)*FrameSamples
		s.sendFrame(samples, timestamp, n == 0)
	}
}

// waitUntil blocks until due, or returns early with ctx.Err() or
// ErrSessionClosed. When due has passed it only checks for a stop.
func (s *Session) waitUntil(ctx context.Context, timer *time.Timer, due time.Time) error {
	wait := time.Until(due)
	if wait <= 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return ErrSessionClosed
		default:
			return nil
		}
	}

	// Since Go 1.23 Reset also discards a value that the timer sent and
	// that was not received, so no drain is needed.
	timer.Reset(wait)
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrSessionClosed
	}
}

// sendFrame encodes up to one frame of samples, pads it with silence to
// FrameSamples and sends it.
func (s *Session) sendFrame(samples []int16, timestamp uint32, marker bool) {
	s.outMu.Lock()
	defer s.outMu.Unlock()

	// outMu also guards codec and law against SetFormat.
	codec, law := s.codec, s.law
	payload := s.out.payload[:FrameSamples]
	law.encode(payload, samples)
	silence := law.silence()
	for i := len(samples); i < FrameSamples; i++ {
		payload[i] = silence
	}
	s.out.send(s, codec.PayloadType, payload, timestamp, FrameSamples, marker, time.Now())
}

// framer cuts the clips that Play and PlayLoop send into frames: first
// once, then loop over and over. Each clip's last partial frame is
// returned short, for sendFrame to pad.
type framer struct {
	first *Audio
	loop  *Audio
	// looping is set once first is used up.
	looping bool
	// position is the index of the next sample of the current clip.
	position int
}

// next returns the samples of the next frame, at most FrameSamples of
// them, and false when there are no more.
func (f *framer) next() ([]int16, bool) {
	for {
		clip := f.first
		if f.looping {
			clip = f.loop
		}
		if clip != nil && f.position < len(clip.Samples) {
			end := min(f.position+FrameSamples, len(clip.Samples))
			samples := clip.Samples[f.position:end]
			f.position = end
			return samples, true
		}

		if f.loop == nil || len(f.loop.Samples) == 0 {
			return nil, false
		}
		f.looping = true
		f.position = 0
	}
}
