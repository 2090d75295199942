package e2e

import (
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tone frequencies of the parties, far enough apart for a Goertzel filter
// over a second of audio, and away from the error tone's 480 and 620 Hz.
const (
	callerToneHz     = 440
	counselorToneHz  = 1000
	supervisorToneHz = 1700
	errorToneHighHz  = 620
)

// Tone levels: the sources play at partyToneAmplitude of full scale, a
// peak of about 6550. A party counts as heard above heardAmplitude and as
// not heard below unheardAmplitude (peak sample values), with G.711
// coding, jitter buffers and baresip's own processing in between.
const (
	partyToneAmplitude = 0.2
	heardAmplitude     = 1000
	unheardAmplitude   = 250
)

// segmentMargin is cut from both ends of a time segment before its audio
// is analysed, for the delays between a log line, the mix and baresip's
// recording.
const segmentMargin = 1500 * time.Millisecond

// goertzelAmplitude returns the amplitude of the frequency component of
// samples at frequencyHz (8 kHz sampling): about A for a pure tone of
// peak A.
func goertzelAmplitude(samples []int16, frequencyHz float64) float64 {
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

// tonePhone starts baresip for user with a source WAV of one tone. An
// empty password makes a phone that never registers, as a caller's.
func tonePhone(t *testing.T, srv *Server, user, password string, frequencyHz float64, autoAnswer bool) *Phone {
	t.Helper()
	RequireTool(t, "baresip")
	source := filepath.Join(t.TempDir(), user+"-tone.wav")
	if err := WriteToneWAV(source, 3*time.Minute, frequencyHz, partyToneAmplitude); err != nil {
		t.Fatalf("writing the tone of %s: %v", user, err)
	}
	spec := Softphone{User: user, Password: password, Server: srv.Addr(), AutoAnswer: autoAnswer, SourceWAV: source}
	if password == "" {
		spec.Password = "not-registered"
		spec.SkipRegistrationWait = true
	}
	return StartBaresip(t, spec)
}

// directQueue makes every call skip the menu and wait in the queue, so that
// a caller phone without keys reaches a counselor.
func directQueue(cfg map[string]any) {
	_ = SetConfig(cfg, "ivr.nodes.direct", map[string]any{"queue": "loneliness"})
	_ = SetConfig(cfg, "ivr.start", "direct")
}

// timeline maps wall-clock moments of a test onto the recording of one
// phone, which starts when its call is established.
type timeline struct {
	established time.Time
}

// segment returns the recorded samples between from and to, without
// segmentMargin at both ends. It fails when less than a second is left.
func (tl timeline) segment(t *testing.T, wav WAV, from, to time.Time) []int16 {
	t.Helper()
	start := int(from.Add(segmentMargin).Sub(tl.established) * TelephoneRate / time.Second)
	end := int(to.Add(-segmentMargin).Sub(tl.established) * TelephoneRate / time.Second)
	start = max(start, 0)
	end = min(end, len(wav.Samples))
	if end-start < TelephoneRate {
		t.Fatalf("segment %s to %s of a %s recording is shorter than a second", from.Sub(tl.established), to.Sub(tl.established), wav.Duration())
	}
	return wav.Samples[start:end]
}

// hears checks that samples contain the tone of each party in heard, and
// not the tone of each party in unheard.
func hears(t *testing.T, who, when string, samples []int16, heard, unheard map[string]float64) {
	t.Helper()
	for party, frequency := range heard {
		if amplitude := goertzelAmplitude(samples, frequency); amplitude < heardAmplitude {
			t.Errorf("%s %s: %s's tone (%.0f Hz) at amplitude %.0f, want at least %d", who, when, party, frequency, amplitude, heardAmplitude)
		}
	}
	for party, frequency := range unheard {
		if amplitude := goertzelAmplitude(samples, frequency); amplitude > unheardAmplitude {
			t.Errorf("%s %s: %s's tone (%.0f Hz) at amplitude %.0f, want at most %d", who, when, party, frequency, amplitude, unheardAmplitude)
		}
	}
}

// readRecording returns what phone heard in its last call.
func readRecording(t *testing.T, phone *Phone, who string) WAV {
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
func measure(d time.Duration) time.Time {
	time.Sleep(d)
	return time.Now()
}

// The counselor presses *9119# during a call: the server calls 119
// through the outbound gateway and mixes caller, counselor and target.
// The gateway echoes what it receives, so each party hearing its own tone
// proves that its audio reached the target. When the target hangs up, the
// counselor stays with the caller. A code for a target not allowed gets an
// error tone and changes nothing.
func TestEmergencyThreeWayFromPhone(t *testing.T) {
	RequireTool(t, "sipp")
	gatewayPort := FreePort(t)
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		directQueue(cfg)
		MustSetConfig(t, cfg, "trunk.outbound_uri", "sip:gw@"+net.JoinHostPort(Loopback, strconv.Itoa(gatewayPort)))
	}})
	counselor := tonePhone(t, srv, "1001", "demo-1001", counselorToneHz, true)
	caller := tonePhone(t, srv, "7000", "", callerToneHz, false)

	caller.Command(t, "dial", "sip:120@"+srv.Addr())
	caller.WaitEvent(t, EventCallEstablished, phoneTimeout)
	callerTimeline := timeline{established: time.Now()}
	counselorCall := counselor.WaitEvent(t, EventCallEstablished, phoneTimeout)
	counselorTimeline := timeline{established: time.Now()}
	srv.WaitLog(t, LogMessage("counselor answered, bridging"), logTimeout)
	bridged := time.Now()
	bridgeEnd := measure(4 * time.Second)

	// A target that trunk.allowed_targets does not list: error tone.
	counselor.Command(t, "sndcode", "*9118#")
	srv.WaitLog(t, LogFields(map[string]any{"message": "emergency feature code rejected", "emergency_target": "118"}), logTimeout)
	rejected := time.Now()

	gateway := StartSipp(t, SippOptions{
		Scenario:  "uas_gateway.xml",
		LocalPort: gatewayPort,
		Vars:      map[string]string{"hold_ms": "9000"},
		Args:      []string{"-rtp_echo"},
		Timeout:   120 * time.Second,
	})
	counselor.Command(t, "sndcode", "*9119#")
	srv.WaitLog(t, LogMessage("emergency target joined the call"), logTimeout)
	joined := time.Now()

	gatewayResult := gateway.Wait(t)
	if gatewayResult.ExitCode != 0 {
		t.Fatalf("gateway failed:\n%s", gatewayResult.Report())
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": "third party left the call", "party": "emergency"}), logTimeout)
	left := time.Now()
	afterEnd := measure(6 * time.Second)

	for _, event := range counselor.Events() {
		if event.Type == EventCallClosed {
			t.Fatalf("the counselor's call closed when the target hung up: %+v", event)
		}
	}
	caller.Hangup(t)
	caller.WaitEvent(t, EventCallClosed, phoneTimeout)
	counselor.WaitEvent(t, EventCallClosed, phoneTimeout)

	rec := srv.WaitRecord(t, func(r map[string]any) bool {
		return recordField(r, "counselor") == "1001" && recordField(r, "ended_at") != ""
	}, recordTimeout)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "emergency_target": "119", "hangup_side": "caller"})
	if gatewayLog := gatewayResult.Log; !strings.Contains(gatewayLog, "gateway called for 119") {
		t.Errorf("gateway was not called for 119:\n%s", gatewayLog)
	}

	callerWAV := readRecording(t, caller, "caller")
	counselorWAV := readRecording(t, counselor, "counselor")
	callerTone := map[string]float64{"caller": callerToneHz}
	counselorTone := map[string]float64{"counselor": counselorToneHz}
	both := map[string]float64{"caller": callerToneHz, "counselor": counselorToneHz}

	hears(t, "caller", "while bridged", callerTimeline.segment(t, callerWAV, bridged, bridgeEnd), counselorTone, callerTone)
	hears(t, "counselor", "while bridged", counselorTimeline.segment(t, counselorWAV, bridged, bridgeEnd), callerTone, counselorTone)

	errorTone := counselorTimeline.segment(t, counselorWAV, rejected.Add(-segmentMargin), rejected.Add(errorToneLength+segmentMargin))
	if amplitude := goertzelAmplitude(errorTone, errorToneHighHz); amplitude < heardAmplitude/2 {
		t.Errorf("counselor heard the error tone's %d Hz at amplitude %.0f, want the tone after a rejected code", errorToneHighHz, amplitude)
	}

	hears(t, "caller", "with the target", callerTimeline.segment(t, callerWAV, joined, left), both, nil)
	hears(t, "counselor", "with the target", counselorTimeline.segment(t, counselorWAV, joined, left), both, nil)

	hears(t, "caller", "after the target left", callerTimeline.segment(t, callerWAV, left, afterEnd), counselorTone, callerTone)
	hears(t, "counselor", "after the target left", counselorTimeline.segment(t, counselorWAV, left, afterEnd), callerTone, counselorTone)

	if counselorCall.ID == "" {
		t.Errorf("counselor's established event has no call id")
	}
}

// errorToneLength is how long the server's error tone plays: three beeps
// of 250 ms with 250 ms pauses.
const errorToneLength = 1500 * time.Millisecond
