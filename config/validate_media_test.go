package config

import (
	"testing"
	"time"
)

func TestHoldTimeoutRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "negative", edits: []edit{{"rtp.hold_timeout", "-1s"}}, key: "rtp.hold_timeout", message: "must not be negative"},
		{name: "shorter than media timeout", edits: []edit{{"rtp.hold_timeout", "30s"}}, key: "rtp.hold_timeout",
			message: "is shorter than rtp.media_timeout 1m0s: use 0 (off) or at least 1m0s"},
	})
}

func TestHoldTimeoutAccepted(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		want  time.Duration
	}{
		{"off by default", nil, 0},
		{"longer than media timeout", []edit{{"rtp.hold_timeout", "30m"}}, 30 * time.Minute},
		{"media timeout off", []edit{{"rtp.media_timeout", "0s"}, {"rtp.hold_timeout", "5s"}}, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := exampleTree(t)
			for _, e := range tt.edits {
				setPath(t, tree, e.path, e.value)
			}

			cfg, err := loadTree(t, tree, nil)

			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if cfg.RTP.HoldTimeout != tt.want {
				t.Errorf("rtp.hold_timeout = %s, want %s", cfg.RTP.HoldTimeout, tt.want)
			}
		})
	}
}
