package sip

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/media"
)

func TestFeatureCodeReader(t *testing.T) {
	cases := []struct {
		name string
		keys string
		// pauseBefore is the index of a key typed after a long pause, -1
		// for none.
		pauseBefore int
		want        []string
	}{
		{"code, number, pound", "*9119#", -1, []string{"119"}},
		{"keys before the code", "12*9112#", -1, []string{"112"}},
		{"two codes", "*9119#*9109#", -1, []string{"119", "109"}},
		{"star restarts", "*91*9119#", -1, []string{"119"}},
		{"pound without number", "*9#", -1, nil},
		{"other code", "*8119#", -1, nil},
		{"letter in number", "*91A9#", -1, nil},
		{"pause starts over", "*9119#", 3, nil},
		{"too many digits", "*91234567890123456#", -1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reader := featureCodeReader{code: "*9"}
			now := time.Unix(1000, 0)
			var got []string
			for i, key := range c.keys {
				now = now.Add(200 * time.Millisecond)
				if i == c.pauseBefore {
					now = now.Add(featureCodeTimeout + time.Second)
				}
				if number, ok := reader.feed(key, now); ok {
					got = append(got, number)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("numbers = %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseMonitorMode(t *testing.T) {
	for _, mode := range []MonitorMode{MonitorListen, MonitorWhisper, MonitorBarge} {
		if got, err := ParseMonitorMode(string(mode)); err != nil || got != mode {
			t.Errorf("ParseMonitorMode(%q) = %q, %v", mode, got, err)
		}
	}
	for _, bad := range []string{"", "LISTEN", "spy"} {
		if _, err := ParseMonitorMode(bad); !errors.Is(err, ErrInvalidMonitorMode) {
			t.Errorf("ParseMonitorMode(%q) error = %v, want ErrInvalidMonitorMode", bad, err)
		}
	}
}

func TestConferenceMatrix(t *testing.T) {
	all := []string{partyCaller, partyCounselor, partyEmergency, partySupervisor}
	cases := []struct {
		name       string
		supervisor bool
		mode       MonitorMode
		// heardBy lists, per party, who hears the supervisor.
		heardBy []string
	}{
		{"no supervisor", false, "", nil},
		{"listen", true, MonitorListen, nil},
		{"whisper", true, MonitorWhisper, []string{partyCounselor}},
		{"barge", true, MonitorBarge, []string{partyCaller, partyCounselor, partyEmergency}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cf := &conference{mixer: media.NewMixer(zerolog.Nop()), mode: c.mode}
			if c.supervisor {
				cf.supervisor = &outboundLeg{}
			}
			cf.setMatrixLocked()

			for _, listener := range all {
				hears := cf.mixer.Hears(listener)
				for _, speaker := range all {
					if speaker == listener {
						continue
					}
					want := speaker != partySupervisor || slices.Contains(c.heardBy, listener)
					if got := slices.Contains(hears, speaker); got != want {
						t.Errorf("%s hears %s: %v, want %v", listener, speaker, got, want)
					}
				}
			}
		})
	}
}

func TestMonitorModeKeys(t *testing.T) {
	want := map[media.Digit]MonitorMode{'1': MonitorListen, '2': MonitorWhisper, '3': MonitorBarge}
	for key, mode := range want {
		if monitorModeKeys[key] != mode {
			t.Errorf("key %c = %q, want %q", key, monitorModeKeys[key], mode)
		}
	}
}

func TestErrorToneLength(t *testing.T) {
	if got := errorTone.Duration(); got != errorToneDuration {
		t.Errorf("error tone lasts %s, want %s", got, errorToneDuration)
	}
}
