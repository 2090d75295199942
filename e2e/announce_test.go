package e2e

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"helpline/media"
)

// Settings of the announcement test.
const (
	// announceInterval is short so that a caller hears several
	// announcements within one test.
	announceInterval = "2s"
	// promptFrameSamples is one 20 ms packet of 8 kHz audio.
	promptFrameSamples = 160
	// matchFrames is how many consecutive packets must equal the prompt
	// for it to count as played.
	matchFrames = 25
	// speechLevel is the sample value above which a frame holds speech
	// rather than the prompt's leading silence.
	speechLevel = 500
)

// promptFrames returns the A-law payloads a server sends for a built-in
// prompt, from its first frame with speech: matchFrames packets. The
// server codes each clip from its first sample in 160-sample frames, so
// the first prompt of a clip arrives in exactly these payloads.
func promptFrames(t *testing.T, language, name string) [][]byte {
	t.Helper()
	wav, err := ReadWAV(filepath.Join(RepoRoot(t), "ivr", "prompts", language, name+".wav"))
	if err != nil {
		t.Fatalf("reading prompt %s/%s: %v", language, name, err)
	}

	var frames [][]byte
	speaking := false
	for start := 0; start+promptFrameSamples <= len(wav.Samples) && len(frames) < matchFrames; start += promptFrameSamples {
		frame := wav.Samples[start : start+promptFrameSamples]
		if !speaking && !hasSpeech(frame) {
			continue
		}
		speaking = true
		payload := make([]byte, promptFrameSamples)
		for i, sample := range frame {
			payload[i] = media.EncodeALaw(sample)
		}
		frames = append(frames, payload)
	}
	if len(frames) < matchFrames {
		t.Fatalf("prompt %s/%s has %d frames of speech, want %d", language, name, len(frames), matchFrames)
	}
	return frames
}

// hasSpeech reports whether a frame has a sample above speechLevel.
func hasSpeech(frame []int16) bool {
	for _, s := range frame {
		if s > speechLevel || s < -speechLevel {
			return true
		}
	}
	return false
}

// findRuns returns the indices where want starts as consecutive payloads,
// without overlaps.
func findRuns(payloads, want [][]byte) []int {
	var starts []int
	for i := 0; i+len(want) <= len(payloads); i++ {
		matched := true
		for j := range want {
			if !bytes.Equal(payloads[i+j], want[j]) {
				matched = false
				break
			}
		}
		if matched {
			starts = append(starts, i)
			i += len(want) - 1
		}
	}
	return starts
}

// hasBetween reports whether some value of list lies after low and before
// high.
func hasBetween(list []int, low, high int) bool {
	for _, v := range list {
		if v > low && v < high {
			return true
		}
	}
	return false
}

func TestPositionAnnouncedWhileWaiting(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	tests := []struct {
		language string
		other    string
	}{
		{language: "ko", other: "en"},
		{language: "en", other: "ko"},
	}
	for _, tt := range tests {
		t.Run(tt.language, func(t *testing.T) {
			t.Parallel()
			checkPositionAnnounced(t, tt.language, tt.other)
		})
	}
}

// checkPositionAnnounced lets one caller, who hears the menu in language,
// wait with nobody to answer, and checks that the position announcement is
// logged and heard more than once, in language and not in other.
func checkPositionAnnounced(t *testing.T, language, other string) {
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "queue.announce_interval", announceInterval)
		// The caller's keys (5, then 1) keep the default language.
		MustSetConfig(t, cfg, "ivr.default_language", language)
		// A short comfort message brings the announcements sooner.
		MustSetConfig(t, cfg, "ivr.hold_prompt", "invalid")
	}})

	// No counselor is logged in: the caller waits 50 s and hangs up. A
	// Korean announcement lasts about 14 s, so two fit with room to spare.
	mediaPort := FreeMediaPort(t)
	capture := Capture(t, mediaPort)
	result := RunSipp(t, SippOptions{
		Scenario:  "uac_abandon.xml",
		Target:    srv.Addr(),
		Service:   "120",
		MediaPort: mediaPort,
		Vars:      map[string]string{"abandon_ms": "50000"},
		Timeout:   120 * time.Second,
	})
	capture.Stop(t)
	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_queue", "language": language})

	var announced []map[string]any
	for _, entry := range srv.Logs() {
		if entry["message"] == "position announced" && entry["call_id"] == result.CallID {
			announced = append(announced, entry)
		}
	}
	if len(announced) < 2 {
		t.Fatalf("server logged %d position announcements for the call, want 2 or more", len(announced))
	}
	for _, entry := range announced {
		if entry["position"] != float64(1) {
			t.Errorf("announced position = %v, want 1 (the only caller)", entry["position"])
		}
		if wait, _ := entry["estimated_wait"].(float64); wait < 60 {
			t.Errorf("announced estimated_wait = %v s, want at least the 60 s floor", entry["estimated_wait"])
		}
	}
	first, _ := time.Parse(time.RFC3339, announced[0]["time"].(string))
	second, _ := time.Parse(time.RFC3339, announced[1]["time"].(string))
	if gap := second.Sub(first); gap < 2*time.Second {
		t.Errorf("announcements %v apart, want at least the %s interval", gap, announceInterval)
	}

	// The caller's stream carries "대기 순번은" or "You are number" once per
	// announcement, coded exactly as the prompt file, and the comfort
	// message before the first announcement and after each one.
	payloads := capture.Payloads(t, mediaPort)
	intros := findRuns(payloads, promptFrames(t, language, "position_intro"))
	comforts := findRuns(payloads, promptFrames(t, language, "invalid"))
	t.Logf("%d announcements logged; in %d packets to the caller the position prompt starts at %v and the comfort message at %v",
		len(announced), len(payloads), intros, comforts)
	if len(intros) < len(announced) {
		t.Fatalf("the caller's RTP carries the position prompt %d times, want %d (one per logged announcement)",
			len(intros), len(announced))
	}
	if !hasBetween(comforts, -1, intros[0]) {
		t.Errorf("no comfort message before the first announcement")
	}
	for i := range len(intros) - 1 {
		if !hasBetween(comforts, intros[i], intros[i+1]) {
			t.Errorf("no comfort message between announcements %d and %d", i+1, i+2)
		}
	}
	if runs := findRuns(payloads, promptFrames(t, other, "position_intro")); len(runs) != 0 {
		t.Errorf("the caller heard the position prompt in %s %d times", other, len(runs))
	}
	noFullNumberInLogs(t, srv)
}
