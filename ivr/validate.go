package ivr

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Validate checks that every prompt the menu names exists in prompts (nil
// means the built-in prompts) for every language the menu can use: the
// default language and each language a node or edge sets. Named prompts
// are the Play lists, collect.invalid_prompt, hold_prompt and hold_music.
// Node references are checked by NewRunner and by the config package, not
// here. The error lists every missing prompt with its configuration key.
func (g *Graph) Validate(prompts *PromptSet) error {
	if g == nil {
		return fmt.Errorf("validating ivr prompts: %w", ErrInvalidGraph)
	}
	if prompts == nil {
		builtin, err := NewPromptSet("")
		if err != nil {
			return fmt.Errorf("validating ivr prompts: %w", err)
		}
		prompts = builtin
	}

	check := promptCheck{prompts: prompts, languages: g.languages()}
	check.prompt("ivr.hold_prompt", g.HoldPrompt)
	check.prompt("ivr.hold_music", g.HoldMusic)
	for _, name := range slices.Sorted(maps.Keys(g.Nodes)) {
		node := g.Nodes[name]
		key := "ivr.nodes." + name
		for _, prompt := range node.Play {
			check.prompt(key+".play", prompt)
		}
		if node.Collect != nil {
			check.prompt(key+".collect.invalid_prompt", node.Collect.InvalidPrompt)
		}
	}
	return errors.Join(check.problems...)
}

// languages returns the default language followed by every other language
// that a node or edge sets, sorted.
func (g *Graph) languages() []string {
	seen := make(map[string]bool)
	note := func(set map[string]string) {
		if language := set[AttributeLanguage]; language != "" && language != g.DefaultLanguage {
			seen[language] = true
		}
	}

	for _, node := range g.Nodes {
		note(node.Set)
		for _, edge := range node.Branches {
			note(edge.Set)
		}
		if node.OnTimeout != nil {
			note(node.OnTimeout.Set)
		}
		if node.OnFail != nil {
			note(node.OnFail.Set)
		}
	}

	others := slices.Sorted(maps.Keys(seen))
	if g.DefaultLanguage == "" {
		return others
	}
	return append([]string{g.DefaultLanguage}, others...)
}

// promptCheck collects missing prompts, each prefixed with its
// configuration key.
type promptCheck struct {
	prompts   *PromptSet
	languages []string
	problems  []error
}

func (pc *promptCheck) prompt(key, name string) {
	if name == "" {
		return
	}
	for _, language := range pc.languages {
		if _, _, err := pc.prompts.locate(name, language); err != nil {
			pc.problems = append(pc.problems, fmt.Errorf("%s: %w", key, err))
		}
	}
}
