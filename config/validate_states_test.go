package config

import (
	"testing"
	"time"
)

func TestStateRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "negative max missed", edits: []edit{{"queue.max_missed", -1}}, key: "queue.max_missed", message: "must not be negative"},
		{name: "negative busy skip", edits: []edit{{"queue.busy_skip", "-1s"}}, key: "queue.busy_skip", message: "must not be negative"},
		{name: "zero max wrap-up", edits: []edit{{"queue.max_wrap_up", "0s"}}, key: "queue.max_wrap_up", message: "must be positive"},
		{name: "wrap-up above cap", edits: []edit{{"queue.wrap_up", "10m"}}, key: "queue.wrap_up", message: "is above queue.max_wrap_up (5m0s): lower wrap_up or raise max_wrap_up"},
		{name: "counselor wrap-up above cap", edits: []edit{{"counselors.1.wrap_up", "6m"}}, key: "counselors.1.wrap_up", message: "6m0s is above queue.max_wrap_up (5m0s): lower it or raise queue.max_wrap_up"},
		{name: "negative counselor wrap-up", edits: []edit{{"counselors.0.wrap_up", "-1s"}}, key: "counselors.0.wrap_up", message: "must not be negative"},
		{name: "api listen not an address", edits: []edit{{"api.listen", "localhost:8080"}}, key: "api.listen", message: "is not an IP address and port"},
		{name: "api listen port zero", edits: []edit{{"api.listen", "127.0.0.1:0"}}, key: "api.listen", message: "has port 0"},
		{name: "api listen on the SIP port", edits: []edit{{"api.listen", "127.0.0.1:5060"}}, key: "api.listen", message: "is the address of sip.listen.1"},
		{name: "api token env not a name", edits: []edit{{"api.token_env", "API TOKEN"}}, key: "api.token_env", message: "is not an environment variable name"},
		{name: "feature code without star", edits: []edit{{"features.login", "21"}}, key: "features.login", message: "is not a feature code: use * and one to six digits"},
		{name: "feature code with letters", edits: []edit{{"features.break", "*2a"}}, key: "features.break", message: "is not a feature code"},
		{name: "feature code twice", edits: []edit{{"features.back", "*23"}}, key: "features.back", message: `"*23" is already the code of features.break`},
	})
}

func TestAPIToken(t *testing.T) {
	tests := []struct {
		name      string
		edits     []edit
		environ   []string
		wantToken string
		wantDemo  bool
		wantOn    bool
		warning   string
	}{
		{name: "token from environment", environ: []string{"HELPLINE_API_TOKEN=from-env"}, wantToken: "from-env", wantOn: true},
		{name: "token in file", edits: []edit{{"api.token", "in-file"}}, wantToken: "in-file", wantOn: true},
		{name: "other variable", edits: []edit{{"api.token_env", "MY_TOKEN"}}, environ: []string{"MY_TOKEN=mine"}, wantToken: "mine", wantOn: true},
		{name: "demo token allowed", wantToken: DemoAPIToken, wantDemo: true, wantOn: true},
		{name: "no token, demo not allowed", edits: []edit{{"api.allow_demo_token", false}}, wantOn: false, warning: "api.token_env"},
		{name: "listen empty", edits: []edit{{"api.listen", ""}}, wantOn: false},
		{name: "demo flag left out", edits: []edit{{"api.allow_demo_token", remove}}, wantOn: false, warning: "api.token_env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := exampleTree(t)
			for _, e := range tt.edits {
				setPath(t, tree, e.path, e.value)
			}

			cfg, err := loadTree(t, tree, tt.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}

			if cfg.API.Enabled() != tt.wantOn {
				t.Errorf("Enabled() = %t, want %t", cfg.API.Enabled(), tt.wantOn)
			}
			if tt.wantOn && cfg.API.Token != tt.wantToken {
				t.Errorf("Token = %q, want %q", cfg.API.Token, tt.wantToken)
			}
			if cfg.API.UsesDemoToken != tt.wantDemo {
				t.Errorf("UsesDemoToken = %t, want %t", cfg.API.UsesDemoToken, tt.wantDemo)
			}
			if tt.warning != "" && !hasWarning(cfg, tt.warning) {
				t.Errorf("warnings %v lack one about %s", cfg.Warnings, tt.warning)
			}
		})
	}
}

func TestCounselorWrapUpDecoded(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "counselors.0.wrap_up", "2m")

	cfg, err := loadTree(t, tree, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	if cfg.Counselors[0].WrapUp != 2*time.Minute {
		t.Errorf("counselors.0.wrap_up = %s, want 2m", cfg.Counselors[0].WrapUp)
	}
	if cfg.Counselors[1].WrapUp != 0 {
		t.Errorf("counselors.1.wrap_up = %s, want 0 (queue.wrap_up)", cfg.Counselors[1].WrapUp)
	}
}

func hasWarning(cfg *Config, key string) bool {
	for _, w := range cfg.Warnings {
		if w.Key == key {
			return true
		}
	}
	return false
}
