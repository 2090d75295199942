package ivr_test

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"helpline/ivr"
)

// silenceTimeout replaces the shipped first-digit timeout in tests where
// the caller stays silent.
const silenceTimeout = 20 * time.Millisecond

// step is one prompt the test expects, and what the caller does during it.
type step struct {
	prompt   string
	language string
	// press is keyed in while the prompt plays.
	press string
	// bargeIn expects the runner to stop the prompt after the first key.
	// Otherwise the test ends the prompt.
	bargeIn bool
}

// hear expects a prompt and lets it play to its end.
func hear(prompt, language string) step {
	return step{prompt: prompt, language: language}
}

// pressDuring expects a prompt and keys in digits that stop it.
func pressDuring(prompt, language, keys string) step {
	return step{prompt: prompt, language: language, press: keys, bargeIn: true}
}

// pressThenHear keys in digits during a prompt that plays to its end.
func pressThenHear(prompt, language, keys string) step {
	return step{prompt: prompt, language: language, press: keys}
}

// follow plays the steps against the runner, in order.
func (f *fakeMedia) follow(t *testing.T, steps []step) {
	t.Helper()

	for _, s := range steps {
		call := f.expectPlay(t, s.prompt, s.language)
		f.press(s.press)
		if s.bargeIn {
			call.expectStopped(t)
			continue
		}
		call.finish <- nil
	}
}

// want is the expected Result of a run.
type want struct {
	action     ivr.Action
	queue      string
	transfer   string
	attributes map[string]string
	digits     string
	path       []string
}

func checkResult(t *testing.T, got ivr.Result, expected want) {
	t.Helper()

	if got.Action != expected.action {
		t.Errorf("action = %v, expected %v", got.Action, expected.action)
	}
	if got.Queue != expected.queue {
		t.Errorf("queue = %q, expected %q", got.Queue, expected.queue)
	}
	if got.Transfer != expected.transfer {
		t.Errorf("transfer = %q, expected %q", got.Transfer, expected.transfer)
	}
	if !maps.Equal(got.Attributes, expected.attributes) {
		t.Errorf("attributes = %v, expected %v", got.Attributes, expected.attributes)
	}
	if got.Digits != expected.digits {
		t.Errorf("digits = %q, expected %q", got.Digits, expected.digits)
	}
	if !slices.Equal(got.Path, expected.path) {
		t.Errorf("path = %v, expected %v", got.Path, expected.path)
	}
}

func TestRunShippedMenu(t *testing.T) {
	const generalServiceURI = "sip:120@127.0.0.1"
	resolveGeneralService := func(target string) string {
		if target == ivr.TransferGeneralService {
			return generalServiceURI
		}
		return ""
	}
	korean := map[string]string{"language": "ko"}
	queuePath := []string{"welcome", "who_for", "to_queue"}
	concernedPath := []string{"welcome", "who_for", "to_concerned_others"}

	tests := []struct {
		name    string
		resolve func(string) string
		steps   []step
		want    want
	}{
		{
			name: "self in korean",
			steps: []step{
				pressDuring("welcome", "ko", "5"),
				pressDuring("who_for", "ko", "1"),
				hear("connecting", "ko"),
			},
			want: want{
				action: ivr.ActionQueue, queue: "loneliness_ko", digits: "51", path: queuePath,
				attributes: map[string]string{"language": "ko", "caller_type": "self"},
			},
		},
		{
			name: "someone else in english",
			steps: []step{
				pressDuring("welcome", "ko", "9"),
				pressDuring("welcome", "en", "5"),
				pressDuring("who_for", "en", "2"),
				hear("connecting", "en"),
			},
			want: want{
				action: ivr.ActionQueue, queue: "concerned_others", digits: "952",
				path:       []string{"welcome", "welcome_en", "who_for_en", "to_concerned_others"},
				attributes: map[string]string{"language": "en", "caller_type": "someone_else"},
			},
		},
		{
			name: "silence at who_for means self",
			steps: []step{
				pressDuring("welcome", "ko", "5"),
				hear("who_for", "ko"),
				hear("danger", "ko"),
				hear("connecting", "ko"),
			},
			want: want{
				action: ivr.ActionQueue, queue: "loneliness_ko", digits: "5", path: queuePath,
				attributes: map[string]string{"language": "ko", "caller_type": "self"},
			},
		},
		{
			name: "invalid key then retry",
			steps: []step{
				pressDuring("welcome", "ko", "7"),
				hear("invalid", "ko"),
				pressDuring("welcome", "ko", "5"),
				pressDuring("who_for", "ko", "1"),
				hear("connecting", "ko"),
			},
			want: want{
				action: ivr.ActionQueue, queue: "loneliness_ko", digits: "751", path: queuePath,
				attributes: map[string]string{"language": "ko", "caller_type": "self"},
			},
		},
		{
			// The 3 pressed during the invalid prompt is dropped, so the
			// second try hears silence and plays the menu a third time.
			name: "keys during invalid prompt dropped",
			steps: []step{
				pressDuring("welcome", "ko", "7"),
				pressThenHear("invalid", "ko", "3"),
				hear("welcome", "ko"),
				pressDuring("welcome", "ko", "5"),
				pressDuring("who_for", "ko", "2"),
				hear("connecting", "ko"),
			},
			want: want{
				action: ivr.ActionQueue, queue: "concerned_others", digits: "7352", path: concernedPath,
				attributes: map[string]string{"language": "ko", "caller_type": "someone_else"},
			},
		},
		{
			name: "english caller about self",
			steps: []step{
				pressDuring("welcome", "ko", "9"),
				pressDuring("welcome", "en", "5"),
				pressDuring("who_for", "en", "1"),
				hear("connecting", "en"),
			},
			want: want{
				action: ivr.ActionQueue, queue: "loneliness_en", digits: "951",
				path:       []string{"welcome", "welcome_en", "who_for_en", "to_queue_en"},
				attributes: map[string]string{"language": "en", "caller_type": "self"},
			},
		},
		{
			name: "danger in korean",
			steps: []step{
				pressDuring("welcome", "ko", "5"),
				hear("who_for", "ko"),
				pressDuring("danger", "ko", "0"),
				hear("connecting", "ko"),
			},
			want: want{
				action: ivr.ActionQueue, queue: "loneliness_ko", digits: "50", path: queuePath,
				attributes: map[string]string{"language": "ko", "priority": "high_risk"},
			},
		},
		{
			name: "danger in english",
			steps: []step{
				pressDuring("welcome", "ko", "9"),
				pressDuring("welcome", "en", "5"),
				pressDuring("who_for", "en", "0"),
				hear("connecting", "en"),
			},
			want: want{
				action: ivr.ActionQueue, queue: "loneliness_en", digits: "950",
				path:       []string{"welcome", "welcome_en", "who_for_en", "to_queue_en"},
				attributes: map[string]string{"language": "en", "priority": "high_risk"},
			},
		},
		{
			name: "silence without general service",
			steps: []step{
				hear("welcome", "ko"),
				hear("welcome", "ko"),
				hear("welcome", "ko"),
				hear("explain_line", "ko"),
				hear("goodbye", "ko"),
			},
			want: want{
				action: ivr.ActionHangup, attributes: korean,
				path: []string{"welcome", "explain", "general_service", "goodbye"},
			},
		},
		{
			name:    "silence with general service",
			resolve: resolveGeneralService,
			steps: []step{
				hear("welcome", "ko"),
				hear("welcome", "ko"),
				hear("welcome", "ko"),
				hear("explain_line", "ko"),
			},
			want: want{
				action: ivr.ActionTransfer, transfer: "general_service", attributes: korean,
				path: []string{"welcome", "explain", "general_service"},
			},
		},
		{
			name: "invalid keys three times",
			steps: []step{
				pressDuring("welcome", "ko", "7"),
				hear("invalid", "ko"),
				pressDuring("welcome", "ko", "0"),
				hear("invalid", "ko"),
				pressDuring("welcome", "ko", "*"),
				hear("invalid", "ko"),
				hear("explain_line", "ko"),
				hear("goodbye", "ko"),
			},
			want: want{
				action: ivr.ActionHangup, digits: "70*", attributes: korean,
				path: []string{"welcome", "explain", "general_service", "goodbye"},
			},
		},
		{
			name: "english caller falls through in english",
			steps: []step{
				pressDuring("welcome", "ko", "9"),
				hear("welcome", "en"),
				hear("welcome", "en"),
				hear("welcome", "en"),
				hear("explain_line", "en"),
				hear("goodbye", "en"),
			},
			want: want{
				action: ivr.ActionHangup, digits: "9", attributes: map[string]string{"language": "en"},
				path: []string{"welcome", "welcome_en", "explain", "general_service", "goodbye"},
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			graph := loadShippedMenu(t)
			setFirstDigitTimeout(graph, silenceTimeout)
			var opts []ivr.Option
			if tt.resolve != nil {
				opts = append(opts, ivr.WithTransferResolver(tt.resolve))
			}
			media := newFakeMedia()

			running := startRun(t, newRunner(t, graph, opts...), media)
			media.follow(t, tt.steps)
			result, err := running.wait(t)

			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkResult(t, result, tt.want)
		})
	}
}

func TestRunHangupMidPrompt(t *testing.T) {
	errCallerHungUp := errors.New("caller hung up")
	media := newFakeMedia()
	running := startRun(t, newRunner(t, loadShippedMenu(t)), media)

	media.follow(t, []step{pressDuring("welcome", "ko", "5")})
	prompt := media.expectPlay(t, "who_for", "ko")
	running.cancel(errCallerHungUp)
	prompt.expectStopped(t)
	result, err := running.wait(t)

	if !errors.Is(err, errCallerHungUp) {
		t.Errorf("Run error = %v, expected it to wrap %v", err, errCallerHungUp)
	}
	checkResult(t, result, want{
		action: ivr.ActionHangup, digits: "5", path: []string{"welcome", "who_for"},
		attributes: map[string]string{"language": "ko"},
	})
}

func TestRunHangupWhileCollecting(t *testing.T) {
	errCallerHungUp := errors.New("caller hung up")
	media := newFakeMedia()
	running := startRun(t, newRunner(t, loadShippedMenu(t)), media)

	media.follow(t, []step{hear("welcome", "ko")})
	running.cancel(errCallerHungUp)
	result, err := running.wait(t)

	if !errors.Is(err, errCallerHungUp) {
		t.Errorf("Run error = %v, expected it to wrap %v", err, errCallerHungUp)
	}
	checkResult(t, result, want{
		action: ivr.ActionHangup, path: []string{"welcome"},
		attributes: map[string]string{"language": "ko"},
	})
}

func TestRunHooks(t *testing.T) {
	var nodes, attributes, digits []string
	hooks := ivr.Hooks{
		OnNode:      func(name string) { nodes = append(nodes, name) },
		OnAttribute: func(key, value string) { attributes = append(attributes, key+"="+value) },
		OnDigits:    func(all string) { digits = append(digits, all) },
	}
	media := newFakeMedia()
	running := startRun(t, newRunner(t, loadShippedMenu(t), ivr.WithHooks(hooks)), media)

	media.follow(t, []step{
		pressDuring("welcome", "ko", "9"),
		pressDuring("welcome", "en", "5"),
		pressDuring("who_for", "en", "2"),
		hear("connecting", "en"),
	})
	if _, err := running.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if expected := []string{"welcome", "welcome_en", "who_for_en", "to_concerned_others"}; !slices.Equal(nodes, expected) {
		t.Errorf("OnNode calls = %v, expected %v", nodes, expected)
	}
	if expected := []string{"language=ko", "language=en", "caller_type=someone_else"}; !slices.Equal(attributes, expected) {
		t.Errorf("OnAttribute calls = %v, expected %v", attributes, expected)
	}
	if expected := []string{"9", "95", "952"}; !slices.Equal(digits, expected) {
		t.Errorf("OnDigits calls = %v, expected %v", digits, expected)
	}
}

func TestRunPromptFailureGoesOn(t *testing.T) {
	graph := loadShippedMenu(t)
	media := newFakeMedia()
	running := startRun(t, newRunner(t, graph), media)

	welcome := media.expectPlay(t, "welcome", "ko")
	media.press("5")
	welcome.expectStopped(t)
	whoFor := media.expectPlay(t, "who_for", "ko")
	whoFor.finish <- errors.New("prompt file unreadable")
	media.follow(t, []step{pressDuring("danger", "ko", "2"), hear("connecting", "ko")})
	result, err := running.wait(t)

	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkResult(t, result, want{
		action: ivr.ActionQueue, queue: "concerned_others", digits: "52",
		path:       []string{"welcome", "who_for", "to_concerned_others"},
		attributes: map[string]string{"language": "ko", "caller_type": "someone_else"},
	})
}
