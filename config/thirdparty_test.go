package config

import (
	"slices"
	"strings"
	"testing"
)

func TestEmergencyCodeRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "no star", edits: []edit{{"trunk.emergency_code", "9"}}, key: "trunk.emergency_code", message: "is not a feature code"},
		{name: "pound", edits: []edit{{"trunk.emergency_code", "*9#"}}, key: "trunk.emergency_code", message: "no #"},
		{name: "too long", edits: []edit{{"trunk.emergency_code", "*9999"}}, key: "trunk.emergency_code", message: "up to three more keys"},
		{name: "empty", edits: []edit{{"trunk.emergency_code", ""}}, key: "trunk.emergency_code", message: "is not a feature code"},
		{name: "environment", environ: []string{"HELPLINE_TRUNK_EMERGENCY_CODE=#1"}, key: "trunk.emergency_code", message: "is not a feature code"},
	})
}

func TestEmergencyCodeDefault(t *testing.T) {
	cfg, err := loadTree(t, exampleTree(t), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Trunk.EmergencyCode != "*9" {
		t.Errorf("trunk.emergency_code = %q, want *9", cfg.Trunk.EmergencyCode)
	}
}

func TestSupervisorsFromCounselors(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "counselors.0.supervisor", true)
	cfg, err := loadTree(t, tree, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := cfg.Supervisors(), []string{"1001", "1003"}; !slices.Equal(got, want) {
		t.Errorf("Supervisors() = %v, want %v", got, want)
	}
}

func TestSupervisorMustBeBoolean(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "counselors.1.supervisor", "sometimes")
	_, err := loadTree(t, tree, nil)
	if err == nil {
		t.Fatal("Load accepted supervisor: sometimes")
	}
	if !strings.Contains(err.Error(), "counselors.1.supervisor") || !strings.Contains(err.Error(), "use true or false") {
		t.Errorf("error does not name the key and the fix:\n%v", err)
	}
}
