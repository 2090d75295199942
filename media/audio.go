package media

import "time"

// Audio format of prompts and hold music, and of the packets Play sends.
const (
	// SampleRate is the rate of Audio samples in Hz, the G.711 rate.
	SampleRate = 8000
	// frameMilliseconds is the packet time of Play, the RFC 3551 default
	// for G.711.
	frameMilliseconds = 20
	// FrameDuration is the audio carried by one packet that Play sends.
	FrameDuration = frameMilliseconds * time.Millisecond
	// FrameSamples is the number of samples in one FrameDuration.
	FrameSamples = SampleRate * frameMilliseconds / 1000
)

// Audio is a clip of 8 kHz mono 16-bit linear PCM, such as a prompt or hold
// music. An Audio is not changed by Play, so one clip can play on many
// sessions at once.
type Audio struct {
	Samples []int16
}

// Duration returns the playing time of the clip.
func (a *Audio) Duration() time.Duration {
	if a == nil {
		return 0
	}
	return samplesDuration(len(a.Samples))
}

// samplesDuration returns the playing time of n samples at SampleRate.
func samplesDuration(n int) time.Duration {
	return time.Duration(n) * time.Second / SampleRate
}
