package ivr_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"helpline/ivr"
)

// menuGraph builds a graph whose node "menu" plays two prompts and collects
// digits. Each branch sets the attribute choice to its digits and queues the
// caller. A failed entry hangs up.
func menuGraph(spec ivr.Collect, branches ...string) *ivr.Graph {
	edges := make(map[string]ivr.Edge)
	for _, digits := range branches {
		edges[digits] = ivr.Edge{Set: map[string]string{"choice": digits}, Next: "matched"}
	}
	return &ivr.Graph{
		Start:           "menu",
		DefaultLanguage: "ko",
		Nodes: map[string]ivr.Node{
			"menu": {
				Play:     []string{"first", "second"},
				Collect:  &spec,
				Branches: edges,
				OnFail:   &ivr.Edge{Next: "failed"},
			},
			"matched": {Play: []string{"connecting"}, Queue: "loneliness"},
			"failed":  {Hangup: true},
		},
	}
}

func TestRunCollect(t *testing.T) {
	const shortWait = 20 * time.Millisecond
	collect := func(maxDigits int, interDigit time.Duration) ivr.Collect {
		return ivr.Collect{
			MaxDigits:         maxDigits,
			FirstDigitTimeout: eventTimeout,
			InterDigitTimeout: interDigit,
			MaxTries:          1,
			InvalidPrompt:     "invalid",
		}
	}
	queued := func(choice, digits string) want {
		return want{
			action: ivr.ActionQueue, queue: "loneliness", digits: digits,
			path:       []string{"menu", "matched"},
			attributes: map[string]string{"language": "ko", "choice": choice},
		}
	}

	tests := []struct {
		name     string
		collect  ivr.Collect
		branches []string
		steps    []step
		// after is keyed in once the steps are done.
		after string
		want  want
	}{
		{
			name:     "repeated digits count each",
			collect:  collect(3, eventTimeout),
			branches: []string{"5", "55", "555"},
			steps:    []step{pressDuring("first", "ko", "555"), hear("connecting", "ko")},
			want:     queued("555", "555"),
		},
		{
			name:     "terminator ends entry",
			collect:  collect(4, eventTimeout),
			branches: []string{"12", "1234"},
			steps:    []step{pressDuring("first", "ko", "12#"), hear("connecting", "ko")},
			want:     queued("12", "12#"),
		},
		{
			name:     "inter-digit timeout ends entry",
			collect:  collect(3, shortWait),
			branches: []string{"1", "12"},
			steps:    []step{pressDuring("first", "ko", "1"), hear("connecting", "ko")},
			want:     queued("1", "1"),
		},
		{
			name:     "keys after the prompts",
			collect:  collect(2, eventTimeout),
			branches: []string{"42"},
			steps:    []step{hear("first", "ko"), hear("second", "ko")},
			after:    "42",
			want:     queued("42", "42"),
		},
		{
			name:     "barge-in on second prompt",
			collect:  collect(1, eventTimeout),
			branches: []string{"3"},
			steps:    []step{hear("first", "ko"), pressDuring("second", "ko", "3"), hear("connecting", "ko")},
			want:     queued("3", "3"),
		},
		{
			name:     "non-dtmf runes ignored",
			collect:  collect(1, eventTimeout),
			branches: []string{"5"},
			steps:    []step{pressDuring("first", "ko", "x5"), hear("connecting", "ko")},
			want:     queued("5", "5"),
		},
		{
			name:     "lowercase letter keys",
			collect:  collect(1, eventTimeout),
			branches: []string{"B"},
			steps:    []step{pressDuring("first", "ko", "b"), hear("connecting", "ko")},
			want:     queued("B", "B"),
		},
		{
			name:     "lone terminator is invalid",
			collect:  collect(2, eventTimeout),
			branches: []string{"1"},
			steps:    []step{pressDuring("first", "ko", "#"), hear("invalid", "ko")},
			want: want{
				action: ivr.ActionHangup, digits: "#", path: []string{"menu", "failed"},
				attributes: map[string]string{"language": "ko"},
			},
		},
		{
			name:     "entry longer than any branch",
			collect:  collect(2, eventTimeout),
			branches: []string{"1"},
			steps:    []step{pressDuring("first", "ko", "11"), hear("invalid", "ko")},
			want: want{
				action: ivr.ActionHangup, digits: "11", path: []string{"menu", "failed"},
				attributes: map[string]string{"language": "ko"},
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			media := newFakeMedia()
			running := startRun(t, newRunner(t, menuGraph(tt.collect, tt.branches...)), media)

			media.follow(t, tt.steps)
			media.press(tt.after)
			if tt.after != "" {
				media.follow(t, []step{hear("connecting", "ko")})
			}
			result, err := running.wait(t)

			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkResult(t, result, tt.want)
		})
	}
}

func TestRunWithoutOnFailHangsUp(t *testing.T) {
	graph := menuGraph(ivr.Collect{MaxDigits: 1, FirstDigitTimeout: silenceTimeout, InterDigitTimeout: time.Second, MaxTries: 2}, "1")
	menu := graph.Nodes["menu"]
	menu.OnFail = nil
	graph.Nodes["menu"] = menu
	media := newFakeMedia()
	running := startRun(t, newRunner(t, graph), media)

	media.follow(t, []step{hear("first", "ko"), hear("second", "ko"), hear("first", "ko"), hear("second", "ko")})
	result, err := running.wait(t)

	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkResult(t, result, want{
		action: ivr.ActionHangup, path: []string{"menu"},
		attributes: map[string]string{"language": "ko"},
	})
}

func TestRunClosedDigitsIsSilence(t *testing.T) {
	graph := loadShippedMenu(t)
	setFirstDigitTimeout(graph, silenceTimeout)
	media := newFakeMedia()
	close(media.digits)
	running := startRun(t, newRunner(t, graph), media)

	media.follow(t, []step{
		hear("welcome", "ko"),
		hear("welcome", "ko"),
		hear("welcome", "ko"),
		hear("explain_line", "ko"),
		hear("goodbye", "ko"),
	})
	result, err := running.wait(t)

	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkResult(t, result, want{
		action: ivr.ActionHangup, path: []string{"welcome", "explain", "general_service", "goodbye"},
		attributes: map[string]string{"language": "ko"},
	})
}

func TestRunTransferDefaultResolver(t *testing.T) {
	tests := []struct {
		name     string
		target   string
		fallback string
		want     want
	}{
		{
			name:   "sip uri transfers",
			target: "sip:help@127.0.0.1",
			want: want{
				action: ivr.ActionTransfer, transfer: "sip:help@127.0.0.1",
				path: []string{"transfer"}, attributes: map[string]string{"language": "ko"},
			},
		},
		{
			name:     "general service takes fallback",
			target:   "general_service",
			fallback: "bye",
			want: want{
				action: ivr.ActionHangup, path: []string{"transfer", "bye"},
				attributes: map[string]string{"language": "ko"},
			},
		},
		{
			name:   "no fallback hangs up",
			target: "general_service",
			want: want{
				action: ivr.ActionHangup, path: []string{"transfer"},
				attributes: map[string]string{"language": "ko"},
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			graph := &ivr.Graph{Start: "transfer", DefaultLanguage: "ko", Nodes: map[string]ivr.Node{
				"transfer": {Transfer: tt.target, Fallback: tt.fallback},
				"bye":      {Hangup: true},
			}}
			running := startRun(t, newRunner(t, graph), newFakeMedia())

			result, err := running.wait(t)

			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkResult(t, result, tt.want)
		})
	}
}

func TestRunLoopStops(t *testing.T) {
	const maxSteps = 7
	graph := &ivr.Graph{Start: "a", DefaultLanguage: "ko", Nodes: map[string]ivr.Node{
		"a": {Next: "b"},
		"b": {Next: "a"},
	}}
	running := startRun(t, newRunner(t, graph, ivr.WithMaxSteps(maxSteps)), newFakeMedia())

	result, err := running.wait(t)

	if !errors.Is(err, ivr.ErrTooManySteps) {
		t.Errorf("Run error = %v, expected %v", err, ivr.ErrTooManySteps)
	}
	if result.Action != ivr.ActionHangup {
		t.Errorf("action = %v, expected hangup", result.Action)
	}
	if len(result.Path) != maxSteps {
		t.Errorf("visited %d nodes, expected %d", len(result.Path), maxSteps)
	}
}

func TestNewRunnerRejects(t *testing.T) {
	valid := func() *ivr.Graph {
		return menuGraph(ivr.Collect{MaxDigits: 1, FirstDigitTimeout: time.Second, InterDigitTimeout: time.Second, MaxTries: 1}, "1")
	}
	tests := []struct {
		name   string
		change func(g *ivr.Graph)
		key    string
	}{
		{name: "missing start", change: func(g *ivr.Graph) { g.Start = "" }, key: "ivr.start"},
		{name: "unknown start", change: func(g *ivr.Graph) { g.Start = "nowhere" }, key: "ivr.start"},
		{name: "missing language", change: func(g *ivr.Graph) { g.DefaultLanguage = "" }, key: "ivr.default_language"},
		{
			name:   "two endings",
			change: func(g *ivr.Graph) { g.Nodes["failed"] = ivr.Node{Hangup: true, Queue: "loneliness"} },
			key:    "ivr.nodes.failed",
		},
		{
			name:   "no ending",
			change: func(g *ivr.Graph) { g.Nodes["failed"] = ivr.Node{Play: []string{"goodbye"}} },
			key:    "ivr.nodes.failed",
		},
		{
			name:   "unknown next",
			change: func(g *ivr.Graph) { g.Nodes["failed"] = ivr.Node{Next: "nowhere"} },
			key:    "ivr.nodes.failed.next",
		},
		{
			name:   "unknown fallback",
			change: func(g *ivr.Graph) { g.Nodes["failed"] = ivr.Node{Transfer: "general_service", Fallback: "nowhere"} },
			key:    "ivr.nodes.failed.fallback",
		},
		{
			name:   "unknown branch target",
			change: func(g *ivr.Graph) { g.Nodes["menu"].Branches["2"] = ivr.Edge{Next: "nowhere"} },
			key:    "ivr.nodes.menu.branches.2.next",
		},
		{
			name:   "branch with terminator",
			change: func(g *ivr.Graph) { g.Nodes["menu"].Branches["1#"] = ivr.Edge{Next: "matched"} },
			key:    "ivr.nodes.menu.branches.1#",
		},
		{
			name:   "branch longer than max digits",
			change: func(g *ivr.Graph) { g.Nodes["menu"].Branches["12"] = ivr.Edge{Next: "matched"} },
			key:    "ivr.nodes.menu.branches.12",
		},
		{
			name:   "zero max digits",
			change: func(g *ivr.Graph) { g.Nodes["menu"].Collect.MaxDigits = 0 },
			key:    "ivr.nodes.menu.collect.max_digits",
		},
		{
			name:   "zero max tries",
			change: func(g *ivr.Graph) { g.Nodes["menu"].Collect.MaxTries = 0 },
			key:    "ivr.nodes.menu.collect.max_tries",
		},
		{
			name:   "zero first digit timeout",
			change: func(g *ivr.Graph) { g.Nodes["menu"].Collect.FirstDigitTimeout = 0 },
			key:    "ivr.nodes.menu.collect.first_digit_timeout",
		},
		{
			name:   "unknown on_fail target",
			change: func(g *ivr.Graph) { g.Nodes["menu"].OnFail.Next = "nowhere" },
			key:    "ivr.nodes.menu.on_fail.next",
		},
		{
			name: "branches without collect",
			change: func(g *ivr.Graph) {
				g.Nodes["failed"] = ivr.Node{Hangup: true, Branches: map[string]ivr.Edge{"1": {Next: "menu"}}}
			},
			key: "ivr.nodes.failed.branches",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			graph := valid()
			tt.change(graph)

			_, err := ivr.NewRunner(graph)

			if !errors.Is(err, ivr.ErrInvalidGraph) {
				t.Fatalf("NewRunner error = %v, expected %v", err, ivr.ErrInvalidGraph)
			}
			if !strings.Contains(err.Error(), tt.key+":") {
				t.Errorf("NewRunner error %q does not name %s", err, tt.key)
			}
		})
	}
}

func TestNewRunnerAcceptsShippedMenu(t *testing.T) {
	if _, err := ivr.NewRunner(loadShippedMenu(t)); err != nil {
		t.Fatalf("NewRunner on the shipped menu: %v", err)
	}
}

func TestNewRunnerRejectsNilGraph(t *testing.T) {
	if _, err := ivr.NewRunner(nil); !errors.Is(err, ivr.ErrInvalidGraph) {
		t.Fatalf("NewRunner(nil) error = %v, expected %v", err, ivr.ErrInvalidGraph)
	}
}

func TestActionString(t *testing.T) {
	tests := []struct {
		action ivr.Action
		want   string
	}{
		{ivr.ActionHangup, "hangup"},
		{ivr.ActionQueue, "queue"},
		{ivr.ActionTransfer, "transfer"},
		{ivr.Action(9), "action(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.action.String(); got != tt.want {
				t.Errorf("String() = %q, expected %q", got, tt.want)
			}
		})
	}
}
