package config

import (
	"slices"
	"strconv"
	"strings"

	"helpline/queue"
)

// validateRouting checks the counselors' skills and each queue's strategy,
// skill and widening.
func validateRouting(cfg *Config, ps *problems) {
	for i, c := range cfg.Counselors {
		key := joinKey(joinKey("counselors", strconv.Itoa(i)), "skills")
		for _, skill := range sortedSkillNames(c.Skills) {
			validatePlainName(ps, joinKey(key, skill), skill)
			if level := c.Skills[skill]; level < MinSkillLevel || level > MaxSkillLevel {
				ps.add(joinKey(key, skill), level, "is not a skill level: use a whole number from %d to %d", MinSkillLevel, MaxSkillLevel)
			}
		}
	}

	for i, q := range cfg.Queues {
		key := joinKey("queues", strconv.Itoa(i))
		if !queue.Strategy(q.Strategy).Valid() {
			ps.add(key+".strategy", q.Strategy, "is not a strategy: use one of %s", strategyNames())
		}
		requireNonNegative(ps, key+".widen_after", q.WidenAfter)
		if q.Skill == "" {
			if q.WidenAfter != 0 {
				ps.add(key+".widen_after", q.WidenAfter, "needs a skill to widen from: set %s.skill, or remove widen_after", key)
			}
			continue
		}
		validatePlainName(ps, key+".skill", q.Skill)
		if q.Skill != strings.ToLower(q.Skill) {
			// The configuration reader lowers the keys of counselors[].skills.
			ps.add(key+".skill", q.Skill, "has capital letters, but skill names are lower case: write %s", strings.ToLower(q.Skill))
		}
		if !slices.ContainsFunc(cfg.Counselors, func(c Counselor) bool { return c.SkillLevel(q.Skill) > 0 }) {
			ps.add(key+".skill", q.Skill, "is a skill no counselor has, so no caller of this queue would be served: add it to counselors[].skills, or remove the skill")
		}
	}
}

// strategyNames lists the strategies for messages.
func strategyNames() string {
	names := make([]string, 0, len(queue.Strategies))
	for _, s := range queue.Strategies {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// sortedSkillNames returns the skill names of skills in order, so that
// problems are reported in the same order every time.
func sortedSkillNames(skills map[string]int) []string {
	names := make([]string, 0, len(skills))
	for name := range skills {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
