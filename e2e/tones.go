package e2e

import (
	"math"
	"path/filepath"
	"testing"
	"time"
)

// Tone frequencies of the parties, far enough apart for a Goertzel filter
// over a second of audio, and away from the error tone's 480 and 620 Hz.
const (
	CallerToneHz     = 440
	CounselorToneHz  = 1000
	SupervisorToneHz = 1700
	ErrorToneHighHz  = 620
)

// Tone levels: the sources play at PartyToneAmplitude of full scale, a
// peak of about 6550. A party counts as heard above HeardAmplitude and as
// not heard below UnheardAmplitude (peak sample values), with G.711
// coding, jitter buffers and baresip's own processing in between.
const (
	PartyToneAmplitude = 0.2
	HeardAmplitude     = 1000
	UnheardAmplitude   = 250
)

// SegmentMargin is cut from both ends of a time segment before its audio
// is analysed, for the delays between a log line, the mix and baresip's
// recording.
const SegmentMargin = 1500 * time.Millisecond

// GoertzelAmplitude returns the amplitude of the frequency component of
// samples at frequencyHz (8 kHz sampling): about A for a pure tone of
// peak A.
func GoertzelAmplitude(samples []int16, frequencyHz float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	coefficient := 2 * math.Cos(2*math.Pi*frequencyHz/TelephoneRate)
	var previous, beforePrevious float64
	for _, sample := range samples {
		current := float64(sample) + coefficient*previous - beforePrevious
		beforePrevious, previous = previous, current
	}
	power := previous*previous + beforePrevious*beforePrevious - coefficient*previous*beforePrevious
	return 2 * math.Sqrt(math.Max(power, 0)) / float64(len(samples))
}

// StartTonePhone starts baresip for user of the server at host:port with a source WAV of one tone. An
// empty password makes a phone that never registers, as a caller's.
func StartTonePhone(t *testing.T, server string, user, password string, frequencyHz float64, autoAnswer bool) *Phone {
	t.Helper()
	RequireTool(t, "baresip")
	spec := Softphone{User: user, Password: password, Server: server, AutoAnswer: autoAnswer, SourceWAV: ToneSource(t, user, frequencyHz)}
	if password == "" {
		spec.Password = "not-registered"
		spec.SkipRegistrationWait = true
	}
	return StartBaresip(t, spec)
}

// ToneSource writes a three-minute WAV of one tone at PartyToneAmplitude
// for user's phone and returns its path.
func ToneSource(t testing.TB, user string, frequencyHz float64) string {
	t.Helper()
	source := filepath.Join(t.TempDir(), user+"-tone.wav")
	if err := WriteToneWAV(source, 3*time.Minute, frequencyHz, PartyToneAmplitude); err != nil {
		t.Fatalf("writing the tone of %s: %v", user, err)
	}
	return source
}

// DirectQueue makes every call skip the menu and wait in the queue, so that
// a caller phone without keys reaches a counselor.
func DirectQueue(cfg map[string]any) {
	_ = SetConfig(cfg, "ivr.nodes.direct", map[string]any{"queue": "loneliness_ko"})
	_ = SetConfig(cfg, "ivr.start", "direct")
}

// Timeline maps wall-clock moments of a test onto the recording of one
// phone, which starts when its call is established.
type Timeline struct {
	Established time.Time
}

// segment returns the recorded samples between from and to, without
// SegmentMargin at both ends. It fails when less than a second is left.
func (tl Timeline) Segment(t *testing.T, wav WAV, from, to time.Time) []int16 {
	t.Helper()
	start := int(from.Add(SegmentMargin).Sub(tl.Established) * TelephoneRate / time.Second)
	end := int(to.Add(-SegmentMargin).Sub(tl.Established) * TelephoneRate / time.Second)
	start = max(start, 0)
	end = min(end, len(wav.Samples))
	if end-start < TelephoneRate {
		t.Fatalf("segment %s to %s of a %s recording is shorter than a second", from.Sub(tl.Established), to.Sub(tl.Established), wav.Duration())
	}
	return wav.Samples[start:end]
}

// hears checks that samples contain the tone of each party in heard, and
// not the tone of each party in unheard.
func CheckHears(t *testing.T, who, when string, samples []int16, heard, unheard map[string]float64) {
	t.Helper()
	for party, frequency := range heard {
		if amplitude := GoertzelAmplitude(samples, frequency); amplitude < HeardAmplitude {
			t.Errorf("%s %s: %s's tone (%.0f Hz) at amplitude %.0f, want at least %d", who, when, party, frequency, amplitude, HeardAmplitude)
		}
	}
	for party, frequency := range unheard {
		if amplitude := GoertzelAmplitude(samples, frequency); amplitude > UnheardAmplitude {
			t.Errorf("%s %s: %s's tone (%.0f Hz) at amplitude %.0f, want at most %d", who, when, party, frequency, amplitude, UnheardAmplitude)
		}
	}
}

// ReadRecording returns what phone heard in its last call.
func ReadRecording(t *testing.T, phone *Phone, who string) WAV {
	t.Helper()
	wav, err := ReadWAV(phone.RecordedWAV(t))
	if err != nil {
		t.Fatalf("reading what the %s heard: %v", who, err)
	}
	if wav.Rate != TelephoneRate || wav.Channels != 1 {
		t.Fatalf("the %s's recording is %d Hz with %d channels, want 8000 Hz mono", who, wav.Rate, wav.Channels)
	}
	return wav
}

// measure lets the parties talk for d, so that each segment of the
// recordings holds enough audio to analyse. It is not a synchronisation:
// every step before and after waits for its event.
func Measure(d time.Duration) time.Time {
	time.Sleep(d)
	return time.Now()
}
