package sip

import (
	"bytes"
	"fmt"

	"helpline/ivr"
	"helpline/media"
)

// PromptCache holds every prompt decoded to samples, so that a call never
// reads or decodes a file.
type PromptCache struct {
	// audio maps language, then prompt name, to samples. Read-only after
	// NewPromptCache.
	byLanguage map[string]map[string]*media.Audio
}

// NewPromptCache decodes each named prompt in each language from set. A
// missing or undecodable prompt is an error naming it.
func NewPromptCache(set *ivr.PromptSet, names []string, languages []string) (*PromptCache, error) {
	cache := &PromptCache{byLanguage: make(map[string]map[string]*media.Audio, len(languages))}
	for _, lang := range languages {
		cache.byLanguage[lang] = make(map[string]*media.Audio, len(names))
		for _, name := range names {
			data, err := set.Open(name, lang)
			if err != nil {
				return nil, fmt.Errorf("loading prompt %q for language %s: %w", name, lang, err)
			}
			a, err := media.DecodeWAV(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("decoding prompt %q for language %s (%s): %w", name, lang, promptSource(set), err)
			}
			cache.byLanguage[lang][name] = a
		}
	}
	return cache, nil
}

// promptSource names where a prompt set's files come from, for errors.
func promptSource(set *ivr.PromptSet) string {
	if set.Dir() == "" {
		return "built-in prompts"
	}
	return "from " + set.Dir() + " or the built-in prompts"
}

// audio returns a prompt's samples.
func (p *PromptCache) audio(name, language string) (*media.Audio, error) {
	a, ok := p.byLanguage[language][name]
	if !ok {
		return nil, fmt.Errorf("prompt %q for language %q is not loaded", name, language)
	}
	return a, nil
}

// hold returns the comfort message and music a queued caller hears.
func (p *PromptCache) hold(g *ivr.Graph, language string) (*media.Audio, *media.Audio, error) {
	comfort, err := p.audio(g.HoldPrompt, language)
	if err != nil {
		return nil, nil, err
	}
	music, err := p.audio(g.HoldMusic, language)
	if err != nil {
		return nil, nil, err
	}
	return p.withCallbackOffer(comfort, language), music, nil
}

// PromptNames lists every prompt the graph can play, hold audio and the
// position announcements included, each once.
func PromptNames(g *ivr.Graph) []string {
	seen := map[string]bool{}
	var names []string
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	add(g.HoldPrompt)
	add(g.HoldMusic)
	for _, name := range announcementPromptNames() {
		add(name)
	}
	for _, node := range g.Nodes {
		for _, p := range node.Play {
			add(p)
		}
		if node.Collect != nil {
			add(node.Collect.InvalidPrompt)
		}
	}
	return names
}
