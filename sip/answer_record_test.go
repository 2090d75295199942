package sip

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/ivr"
	"helpline/records"
)

// patchLog is a record store that keeps every patch written.
type patchLog struct {
	mu      sync.Mutex // guards patches
	patches []records.Patch
}

func (l *patchLog) Start(context.Context, records.StartInfo) error { return nil }

func (l *patchLog) Update(_ context.Context, _ string, p records.Patch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.patches = append(l.patches, p)
	return nil
}

func (l *patchLog) languages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var got []string
	for _, p := range l.patches {
		if p.Language != nil {
			got = append(got, *p.Language)
		}
	}
	return got
}

func newRecordedCall(t *testing.T, store RecordStore) *call {
	t.Helper()
	s := &Server{records: store, graph: &ivr.Graph{DefaultLanguage: "ko"}, log: zerolog.Nop()}
	return &call{id: "call-1", srv: s, ctx: t.Context(), log: zerolog.Nop()}
}

func TestRecordAnsweredWritesDefaultLanguage(t *testing.T) {
	store := &patchLog{}
	c := newRecordedCall(t, store)
	at := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)

	c.recordAnswered(at)

	if len(store.patches) != 1 {
		t.Fatalf("got %d record writes, want 1", len(store.patches))
	}
	p := store.patches[0]
	if p.AnsweredAt == nil || !p.AnsweredAt.Equal(at) {
		t.Errorf("answered_at = %v, want %v", p.AnsweredAt, at)
	}
	if p.Language == nil || *p.Language != "ko" {
		t.Errorf("language = %v, want ko", p.Language)
	}
}

func TestIVRLanguageHookSkipsRecordedLanguage(t *testing.T) {
	store := &patchLog{}
	c := newRecordedCall(t, store)
	c.recordAnswered(time.Now())
	hooks := c.ivrHooks()

	// The IVR sets the default language first, then the caller picks
	// English, then a node sets English again.
	for _, language := range []string{"ko", "en", "en"} {
		hooks.OnAttribute(attrLanguage, language)
	}

	got := store.languages()
	want := []string{"ko", "en"}
	if len(got) != len(want) {
		t.Fatalf("language writes = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("language write %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestIVRLanguageHookWritesWithoutAnswer(t *testing.T) {
	store := &patchLog{}
	c := newRecordedCall(t, store)

	c.ivrHooks().OnAttribute(attrLanguage, "ko")

	if got := store.languages(); len(got) != 1 || got[0] != "ko" {
		t.Errorf("language writes = %v, want [ko]", got)
	}
}
