package sip

import (
	"slices"
	"strings"
	"testing"
	"time"

	"helpline/ivr"
)

func TestAnnouncementPrompts(t *testing.T) {
	tests := []struct {
		name     string
		position int
		wait     time.Duration
		want     []string
	}{
		{"first in line", 1, 5 * time.Minute,
			[]string{"position_intro", "position_1", "position_outro", "wait_intro", "minutes_5", "wait_outro"}},
		{"seventh in line", 7, 11*time.Minute + 40*time.Second,
			[]string{"position_intro", "position_7", "position_outro", "wait_intro", "minutes_12", "wait_outro"}},
		{"twenty-fifth in line", 25, 2 * time.Hour,
			[]string{"position_over", "wait_over"}},
		{"twentieth in line says twenty", 20, 20 * time.Minute,
			[]string{"position_intro", "position_20", "position_outro", "wait_intro", "minutes_20", "wait_outro"}},
		{"minutes round up", 2, 4*time.Minute + time.Second,
			[]string{"position_intro", "position_2", "position_outro", "wait_intro", "minutes_5", "wait_outro"}},
		{"under a minute says one minute", 1, 10 * time.Second,
			[]string{"position_intro", "position_1", "position_outro", "wait_intro", "minutes_1", "wait_outro"}},
		{"position zero counts as first", 0, time.Minute,
			[]string{"position_intro", "position_1", "position_outro", "wait_intro", "minutes_1", "wait_outro"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := announcementPrompts(tt.position, tt.wait)
			if !slices.Equal(got, tt.want) {
				t.Errorf("announcementPrompts(%d, %v) = %v, want %v", tt.position, tt.wait, got, tt.want)
			}
		})
	}
}

// builtinAnnouncements decodes the built-in announcement prompts in both
// languages.
func builtinAnnouncements(t *testing.T) *PromptCache {
	t.Helper()
	set, err := ivr.NewPromptSet("")
	if err != nil {
		t.Fatalf("NewPromptSet: %v", err)
	}
	cache, err := NewPromptCache(set, announcementPromptNames(), []string{"ko", "en"})
	if err != nil {
		t.Fatalf("built-in announcement prompts: %v", err)
	}
	return cache
}

func TestAnnouncementAudioInBothLanguages(t *testing.T) {
	cache := builtinAnnouncements(t)
	for _, language := range []string{"ko", "en"} {
		for _, position := range []int{1, 7, 25} {
			names := announcementPrompts(position, time.Duration(position)*3*time.Minute)
			clip, err := cache.joinPrompts(names, language)
			if err != nil {
				t.Fatalf("%s, position %d: %v", language, position, err)
			}

			var want int
			for _, name := range names {
				part, err := cache.audio(name, language)
				if err != nil {
					t.Fatalf("%s %s: %v", language, name, err)
				}
				want += len(part.Samples)
			}
			if len(clip.Samples) != want {
				t.Errorf("%s, position %d: joined %d samples, want the %d of %s", language, position,
					len(clip.Samples), want, strings.Join(names, " + "))
			}
			if d := clip.Duration(); d < time.Second || d > 20*time.Second {
				t.Errorf("%s, position %d: announcement lasts %v, want 1 s to 20 s", language, position, d)
			}
		}
	}
}

func TestAnnouncementLanguagesDiffer(t *testing.T) {
	cache := builtinAnnouncements(t)
	for _, name := range announcementPromptNames() {
		ko, errKo := cache.audio(name, "ko")
		en, errEn := cache.audio(name, "en")
		if errKo != nil || errEn != nil {
			t.Fatalf("%s: %v, %v", name, errKo, errEn)
		}
		if slices.Equal(ko.Samples, en.Samples) {
			t.Errorf("%s: Korean and English audio are the same", name)
		}
	}
}

func TestPromptNamesIncludeAnnouncements(t *testing.T) {
	names := PromptNames(&ivr.Graph{HoldPrompt: "queue_comfort", HoldMusic: "hold_music"})
	for _, want := range []string{"position_intro", "position_20", "minutes_1", "wait_over"} {
		if !slices.Contains(names, want) {
			t.Errorf("PromptNames lacks %s: %v", want, names)
		}
	}
}
