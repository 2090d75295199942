package config

import (
	"testing"
	"time"
)

func TestSIPLimitRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "negative invite rate", edits: []edit{{"sip.rate_limit.invite_rate", -1}}, key: "sip.rate_limit.invite_rate", message: "must be from 0 (no limit) to 10000"},
		{name: "huge register rate", edits: []edit{{"sip.rate_limit.register_rate", 20000}}, key: "sip.rate_limit.register_rate", message: "must be from 0 (no limit) to 10000"},
		{name: "zero invite burst", edits: []edit{{"sip.rate_limit.invite_burst", 0}}, key: "sip.rate_limit.invite_burst", message: "must be from 1 to 100000"},
		{name: "zero register burst", edits: []edit{{"sip.rate_limit.register_burst", 0}}, key: "sip.rate_limit.register_burst", message: "must be from 1 to 100000"},
		{name: "zero idle timeout", edits: []edit{{"sip.rate_limit.idle_timeout", "0s"}}, key: "sip.rate_limit.idle_timeout", message: "must be positive: use a duration such as 1m"},
		{name: "zero max sources", edits: []edit{{"sip.rate_limit.max_sources", 0}}, key: "sip.rate_limit.max_sources", message: "must be from 1 to 1000000"},
		{name: "zero lockout attempts", edits: []edit{{"sip.auth_lockout.attempts", 0}}, key: "sip.auth_lockout.attempts", message: "must be from 1 to 100"},
		{name: "zero lockout duration", edits: []edit{{"sip.auth_lockout.duration", "0s"}}, key: "sip.auth_lockout.duration", message: "must be positive"},
		{name: "long lockout duration", edits: []edit{{"sip.auth_lockout.duration", "48h"}}, key: "sip.auth_lockout.duration", message: "is longer than 24h0m0s"},
		{name: "text rate", edits: []edit{{"sip.rate_limit.invite_rate", "fast"}}, key: "sip.rate_limit.invite_rate", message: "is not a whole number"},
	})
}

func TestSIPLimitDefaults(t *testing.T) {
	cfg, err := loadTree(t, exampleTree(t), nil)
	if err != nil {
		t.Fatalf("loading the example: %v", err)
	}

	want := RateLimit{InviteRate: 5, InviteBurst: 20, RegisterRate: 10, RegisterBurst: 50, IdleTimeout: time.Minute, MaxSources: 10000}
	if cfg.SIP.RateLimit != want {
		t.Errorf("sip.rate_limit = %+v, want %+v", cfg.SIP.RateLimit, want)
	}
	if lockout := (AuthLockout{Attempts: 5, Duration: time.Minute}); cfg.SIP.AuthLockout != lockout {
		t.Errorf("sip.auth_lockout = %+v, want %+v", cfg.SIP.AuthLockout, lockout)
	}
}

// A rate of 0 turns the limit off, and its burst is then not checked.
func TestSIPRateZeroDisables(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "sip.rate_limit.invite_rate", 0)
	setPath(t, tree, "sip.rate_limit.invite_burst", 0)
	setPath(t, tree, "sip.rate_limit.register_rate", 0)

	cfg, err := loadTree(t, tree, []string{"HELPLINE_SIP_RATE_LIMIT_REGISTER_BURST=0"})
	if err != nil {
		t.Fatalf("loading with rates 0: %v", err)
	}
	if cfg.SIP.RateLimit.InviteRate != 0 || cfg.SIP.RateLimit.RegisterRate != 0 {
		t.Errorf("rates = %d and %d, want 0 and 0", cfg.SIP.RateLimit.InviteRate, cfg.SIP.RateLimit.RegisterRate)
	}
}

func TestSIPLimitsFromEnvironment(t *testing.T) {
	cfg, err := loadTree(t, exampleTree(t), []string{
		"HELPLINE_SIP_RATE_LIMIT_INVITE_RATE=2",
		"HELPLINE_SIP_AUTH_LOCKOUT_DURATION=30s",
	})
	if err != nil {
		t.Fatalf("loading with variables: %v", err)
	}
	if cfg.SIP.RateLimit.InviteRate != 2 {
		t.Errorf("invite_rate = %d, want 2 from HELPLINE_SIP_RATE_LIMIT_INVITE_RATE", cfg.SIP.RateLimit.InviteRate)
	}
	if cfg.SIP.AuthLockout.Duration != 30*time.Second {
		t.Errorf("auth_lockout.duration = %s, want 30s from HELPLINE_SIP_AUTH_LOCKOUT_DURATION", cfg.SIP.AuthLockout.Duration)
	}
}
