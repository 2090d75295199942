package main

import (
	"helpline/config"
	"helpline/queue"
	"helpline/routing"
)

// queueRouting returns the distributor option for a queue's strategy and
// skill.
func queueRouting(cfg *config.Config, def config.QueueDef) routing.Option {
	strategy := queue.Strategy(def.Strategy)
	if strategy == "" {
		strategy = queue.StrategyLongestIdle
	}
	options := []routing.Option{routing.WithStrategy(strategy)}
	if def.Skill != "" {
		levels := make(map[string]int, len(cfg.Counselors))
		for _, c := range cfg.Counselors {
			levels[c.ID] = c.SkillLevel(def.Skill)
		}
		options = append(options, routing.WithSkill(def.Skill, levels, def.WidenAfter))
	}
	return func(d *routing.Distributor) {
		for _, option := range options {
			option(d)
		}
	}
}
