package ivr_test

import (
	"errors"
	"strings"
	"testing"

	"helpline/ivr"
)

func TestValidateShippedMenu(t *testing.T) {
	graph := loadShippedMenu(t)

	if err := graph.Validate(nil); err != nil {
		t.Errorf("Validate(nil): %v", err)
	}
	if err := graph.Validate(builtinPrompts(t)); err != nil {
		t.Errorf("Validate(built-in): %v", err)
	}
}

func TestValidateMissingPrompts(t *testing.T) {
	dir := t.TempDir()
	prompts, err := ivr.NewPromptSet(dir)
	if err != nil {
		t.Fatalf("NewPromptSet: %v", err)
	}

	tests := []struct {
		name      string
		change    func(g *ivr.Graph)
		wantLines []string
	}{
		{
			name: "play typo",
			change: func(g *ivr.Graph) {
				g.Nodes["welcome"] = withPlay(g.Nodes["welcome"], "welcom")
			},
			wantLines: []string{
				`ivr.nodes.welcome.play: prompt "welcom" not found for language ko (looked in ` + dir + ` and the built-in prompts)`,
				`ivr.nodes.welcome.play: prompt "welcom" not found for language en (looked in ` + dir + ` and the built-in prompts)`,
			},
		},
		{
			name:   "invalid prompt typo",
			change: func(g *ivr.Graph) { g.Nodes["who_for"].Collect.InvalidPrompt = "invalud" },
			wantLines: []string{
				`ivr.nodes.who_for.collect.invalid_prompt: prompt "invalud" not found for language ko`,
				`ivr.nodes.who_for.collect.invalid_prompt: prompt "invalud" not found for language en`,
			},
		},
		{
			name:      "hold prompt typo",
			change:    func(g *ivr.Graph) { g.HoldPrompt = "queue_comfrot" },
			wantLines: []string{`ivr.hold_prompt: prompt "queue_comfrot" not found for language ko`},
		},
		{
			name:      "hold music typo",
			change:    func(g *ivr.Graph) { g.HoldMusic = "hold_musik" },
			wantLines: []string{`ivr.hold_music: prompt "hold_musik" not found for language en`},
		},
		{
			name: "language without prompts",
			change: func(g *ivr.Graph) {
				g.Nodes["welcome"].Branches["8"] = ivr.Edge{Set: map[string]string{"language": "fr"}, Next: "welcome_en"}
			},
			wantLines: []string{`ivr.nodes.welcome.play: prompt "welcome" not found for language fr`},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			graph := loadShippedMenu(t)
			tt.change(graph)

			err := graph.Validate(prompts)

			if !errors.Is(err, ivr.ErrPromptNotFound) {
				t.Fatalf("Validate error = %v, expected %v", err, ivr.ErrPromptNotFound)
			}
			for _, line := range tt.wantLines {
				if !strings.Contains(err.Error(), line) {
					t.Errorf("Validate error %q does not contain %q", err, line)
				}
			}
		})
	}
}

func TestValidateNilGraph(t *testing.T) {
	var graph *ivr.Graph
	if err := graph.Validate(nil); !errors.Is(err, ivr.ErrInvalidGraph) {
		t.Errorf("Validate on a nil graph = %v, expected %v", err, ivr.ErrInvalidGraph)
	}
}

func withPlay(node ivr.Node, prompts ...string) ivr.Node {
	node.Play = prompts
	return node
}
