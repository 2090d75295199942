package config

import (
	"testing"
	"time"
)

func TestRoutingRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "unknown strategy", edits: []edit{{"queues.0.strategy", "loudest"}}, key: "queues.0.strategy", message: "use one of longest_idle, round_robin, fewest_calls, skills, ring_all"},
		{name: "negative widening", edits: []edit{{"queues.1.widen_after", "-1s"}}, key: "queues.1.widen_after", message: "must not be negative"},
		{name: "widening without skill", edits: []edit{{"queues.1.skill", remove}}, key: "queues.1.widen_after", message: "needs a skill to widen from"},
		{name: "skill nobody has", edits: []edit{{"queues.0.skill", "fr"}}, key: "queues.0.skill", message: "is a skill no counselor has"},
		{name: "upper-case skill", edits: []edit{{"queues.0.skill", "KO"}}, key: "queues.0.skill", message: "write ko"},
		{name: "level too high", edits: []edit{{"counselors.0.skills.ko", 11}}, key: "counselors.0.skills.ko", message: "use a whole number from 1 to 10"},
		{name: "level zero", edits: []edit{{"counselors.0.skills.ko", 0}}, key: "counselors.0.skills.ko", message: "use a whole number from 1 to 10"},
		{name: "level not a number", edits: []edit{{"counselors.0.skills.ko", "expert"}}, key: "counselors.0.skills.ko", message: "number"},
	})
}

func TestRoutingExample(t *testing.T) {
	cfg := mustLoad(t, "", nil)

	want := []QueueDef{
		{Name: "loneliness_ko", LabelKo: "외로움 상담(한국어)", LabelEn: "Loneliness (Korean)", Skill: "ko"},
		{Name: "loneliness_en", LabelKo: "외로움 상담(영어)", LabelEn: "Loneliness (English)", Strategy: "skills", Skill: "en", WidenAfter: time.Minute},
		{Name: "concerned_others", LabelKo: "주변인 상담", LabelEn: "Someone I care about", Skill: "concerned_others"},
	}
	if len(cfg.Queues) != len(want) {
		t.Fatalf("queues = %+v, want %+v", cfg.Queues, want)
	}
	for i := range want {
		if cfg.Queues[i] != want[i] {
			t.Errorf("queues.%d = %+v, want %+v", i, cfg.Queues[i], want[i])
		}
	}
	if got := cfg.Counselors[2].SkillLevel("en"); got != 5 {
		t.Errorf("counselor 1003 en level = %d, want 5", got)
	}
	if got := cfg.Counselors[0].SkillLevel("en"); got != 0 {
		t.Errorf("counselor 1001 en level = %d, want 0", got)
	}
}

func TestSkillLevelWithoutSkills(t *testing.T) {
	c := Counselor{ID: "7"}
	if got := c.SkillLevel("anything"); got != MinSkillLevel {
		t.Errorf("SkillLevel without skills = %d, want %d", got, MinSkillLevel)
	}
}
