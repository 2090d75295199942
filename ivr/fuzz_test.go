package ivr_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"helpline/ivr"
)

// autoMedia plays every prompt at once and offers a fixed list of keys,
// then no more.
type autoMedia struct {
	digits chan rune
}

func newAutoMedia(keys string) *autoMedia {
	m := &autoMedia{digits: make(chan rune, len([]rune(keys)))}
	for _, key := range keys {
		m.digits <- key
	}
	close(m.digits)
	return m
}

func (m *autoMedia) Digits() <-chan rune { return m.digits }

func (m *autoMedia) Play(ctx context.Context, _, _ string) error { return ctx.Err() }

// dtmfOnly keeps the runes the runner accepts as keys, in upper case.
func dtmfOnly(keys string) string {
	var kept strings.Builder
	for _, r := range keys {
		r = unicode.ToUpper(r)
		if strings.ContainsRune("0123456789*#ABCD", r) {
			kept.WriteRune(r)
		}
	}
	return kept.String()
}

// FuzzRunDigits drives the shipped menu with any key sequence and checks
// that every call ends in the queue or a hangup, with attributes the menu
// can set and digits taken in the order they were pressed.
func FuzzRunDigits(f *testing.F) {
	for _, seed := range []string{"", "51", "952", "5", "777", "7#5#1", "9x9", "55555", "#"} {
		f.Add(seed)
	}

	const fuzzTimeout = time.Millisecond
	graph := loadShippedMenu(f)
	for _, node := range graph.Nodes {
		if node.Collect != nil {
			node.Collect.FirstDigitTimeout = fuzzTimeout
			node.Collect.InterDigitTimeout = fuzzTimeout
		}
	}
	runner := newRunner(f, graph)

	f.Fuzz(func(t *testing.T, keys string) {
		ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		t.Cleanup(cancel)

		result, err := runner.Run(ctx, newAutoMedia(keys))

		if err != nil {
			t.Fatalf("Run(%q): %v", keys, err)
		}
		if !strings.HasPrefix(dtmfOnly(keys), result.Digits) {
			t.Errorf("digits %q are not a prefix of the keys pressed %q", result.Digits, keys)
		}
		if len(result.Path) == 0 || result.Path[0] != graph.Start {
			t.Errorf("path %v does not begin at %q", result.Path, graph.Start)
		}
		if language := result.Attributes["language"]; language != "ko" && language != "en" {
			t.Errorf("language = %q, expected ko or en", language)
		}

		switch result.Action {
		case ivr.ActionQueue:
			if !slices.Contains([]string{"loneliness_ko", "loneliness_en", "concerned_others"}, result.Queue) {
				t.Errorf("queue = %q, expected loneliness_ko, loneliness_en or concerned_others", result.Queue)
			}
			callerType := result.Attributes["caller_type"]
			highRisk := result.Attributes["priority"] == "high_risk"
			if callerType != "self" && callerType != "someone_else" && !highRisk {
				t.Errorf("queued with caller_type %q and no high-risk priority, expected self or someone_else", callerType)
			}
			if wantEnglish := result.Queue == "loneliness_en"; wantEnglish != (result.Attributes["language"] == "en") && result.Queue != "concerned_others" {
				t.Errorf("queue %s with language %q", result.Queue, result.Attributes["language"])
			}
		case ivr.ActionHangup:
			if last := result.Path[len(result.Path)-1]; last != "goodbye" {
				t.Errorf("hung up at node %q, expected goodbye", last)
			}
		default:
			t.Errorf("action = %v, expected queue or hangup without a transfer resolver", result.Action)
		}
	})
}
