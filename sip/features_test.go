package sip

import (
	"context"
	"errors"
	"testing"

	"helpline/ivr"
)

func TestFeatureTableLookup(t *testing.T) {
	table := NewFeatureTable()
	handler := func(context.Context, FeatureRequest) (string, error) { return "ok", nil }
	for _, code := range []string{"*21", "*2"} {
		if err := table.Add(code, handler); err != nil {
			t.Fatalf("Add(%s): %v", code, err)
		}
	}
	for _, code := range []string{"*31", "*3"} {
		if err := table.AddWithArg(code, handler); err != nil {
			t.Fatalf("AddWithArg(%s): %v", code, err)
		}
	}

	tests := []struct {
		dialled  string
		wantCode string
		wantArg  string
		wantErr  bool
	}{
		{dialled: "*21", wantCode: "*21"},
		{dialled: "*2", wantCode: "*2"},
		{dialled: "*311002", wantCode: "*31", wantArg: "1002"},
		{dialled: "*399", wantCode: "*3", wantArg: "99"},
		{dialled: "*31", wantCode: "*3", wantArg: "1"},
		{dialled: "*3", wantErr: true},
		{dialled: "*22", wantErr: true},
		{dialled: "*21#", wantErr: true},
		{dialled: "21", wantErr: true},
		{dialled: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.dialled, func(t *testing.T) {
			h, req, err := table.Lookup(tt.dialled)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownFeature) {
					t.Errorf("Lookup(%q) error = %v, want ErrUnknownFeature", tt.dialled, err)
				}
				return
			}
			if err != nil || h == nil {
				t.Fatalf("Lookup(%q) = %v", tt.dialled, err)
			}
			if req.Code != tt.wantCode || req.Arg != tt.wantArg {
				t.Errorf("Lookup(%q) = code %q arg %q, want %q %q", tt.dialled, req.Code, req.Arg, tt.wantCode, tt.wantArg)
			}
		})
	}
}

func TestFeatureTableRejectsBadCodes(t *testing.T) {
	table := NewFeatureTable()
	handler := func(context.Context, FeatureRequest) (string, error) { return "", nil }
	_ = table.Add("*21", handler)

	for _, code := range []string{"21", "*2a", "*", "*21"} {
		if err := table.Add(code, handler); !errors.Is(err, ErrInvalidFeatureCode) {
			t.Errorf("Add(%q) = %v, want ErrInvalidFeatureCode", code, err)
		}
	}
}

// stubStates records which state change a code asked for.
type stubStates struct {
	calls []string
	err   error
}

func (s *stubStates) record(name, id string) error {
	s.calls = append(s.calls, name+":"+id)
	return s.err
}
func (s *stubStates) Login(_ context.Context, id, _ string) error  { return s.record("login", id) }
func (s *stubStates) Logout(_ context.Context, id, _ string) error { return s.record("logout", id) }
func (s *stubStates) Break(_ context.Context, id, _, _ string) error {
	return s.record("break", id)
}
func (s *stubStates) Resume(_ context.Context, id, _ string) error    { return s.record("resume", id) }
func (s *stubStates) EndWrapUp(_ context.Context, id, _ string) error { return s.record("end", id) }

func TestStateFeatures(t *testing.T) {
	states := &stubStates{}
	table := NewFeatureTable()
	codes := StateCodes{Login: "*21", Logout: "*22", Break: "*23", Back: "*24", EndWrapUp: "*25"}
	if err := AddStateFeatures(table, codes, states); err != nil {
		t.Fatalf("AddStateFeatures: %v", err)
	}

	want := map[string]string{"*21": promptLoggedIn, "*22": promptLoggedOut, "*23": promptOnBreak, "*24": promptBackFromBreak, "*25": promptWrapUpEnded}
	for code, prompt := range want {
		h, req, err := table.Lookup(code)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", code, err)
		}
		req.CounselorID = "1001"
		got, err := h(context.Background(), req)
		if err != nil || got != prompt {
			t.Errorf("%s played %q (%v), want %q", code, got, err, prompt)
		}
	}
	if len(states.calls) != 5 {
		t.Errorf("state calls = %v, want one per code", states.calls)
	}

	states.err = errors.New("not in wrap-up")
	h, req, _ := table.Lookup("*25")
	if _, err := h(context.Background(), req); err == nil {
		t.Error("a failed change returned no error, want one so the error prompt plays")
	}
}

func TestFeaturePromptsBuiltIn(t *testing.T) {
	set, err := ivr.NewPromptSet("")
	if err != nil {
		t.Fatalf("NewPromptSet: %v", err)
	}

	if _, err := NewPromptCache(set, FeaturePrompts, []string{"ko", "en"}); err != nil {
		t.Errorf("built-in feature prompts: %v", err)
	}
}
