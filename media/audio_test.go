package media

import (
	"testing"
	"time"
)

func TestAudioDuration(t *testing.T) {
	tests := []struct {
		name  string
		audio *Audio
		want  time.Duration
	}{
		{name: "nil", audio: nil, want: 0},
		{name: "empty", audio: &Audio{}, want: 0},
		{name: "one sample", audio: audioOf(1, 0), want: 125 * time.Microsecond},
		{name: "one frame", audio: audioOf(FrameSamples, 0), want: FrameDuration},
		{name: "frame and a half", audio: audioOf(FrameSamples*3/2, 0), want: 30 * time.Millisecond},
		{name: "one second", audio: audioOf(SampleRate, 0), want: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.audio.Duration(); got != tt.want {
				t.Errorf("Duration = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFramer(t *testing.T) {
	tests := []struct {
		name  string
		first *Audio
		loop  *Audio
		// want lists the length of each frame, up to the first 8.
		want []int
	}{
		{name: "nothing", want: nil},
		{name: "first only", first: audioOf(FrameSamples*2+10, 0), want: []int{FrameSamples, FrameSamples, 10}},
		{name: "empty loop ends after first", first: audioOf(FrameSamples, 0), loop: &Audio{}, want: []int{FrameSamples}},
		{name: "loop only repeats", loop: audioOf(FrameSamples+1, 0), want: []int{FrameSamples, 1, FrameSamples, 1, FrameSamples, 1, FrameSamples, 1}},
		{name: "first then loop", first: audioOf(5, 0), loop: audioOf(FrameSamples, 0), want: []int{5, FrameSamples, FrameSamples, FrameSamples, FrameSamples, FrameSamples, FrameSamples, FrameSamples}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := &framer{first: tt.first, loop: tt.loop}
			var got []int
			for len(got) < 8 {
				samples, ok := frames.next()
				if !ok {
					break
				}
				got = append(got, len(samples))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("frame lengths %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("frame %d: %d samples, want %d", i, got[i], tt.want[i])
				}
			}
		})
	}
}
