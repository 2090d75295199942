package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"helpline/config"
)

func TestEmergencyRouteWarning(t *testing.T) {
	tests := []struct {
		name     string
		trunk    config.Trunk
		wantWarn bool
	}{
		{"targets without a gateway", config.Trunk{AllowedTargets: []string{"119", "112"}}, true},
		{"targets with a gateway", config.Trunk{AllowedTargets: []string{"119"}, OutboundURI: "sip:gw@192.0.2.20"}, false},
		{"no targets", config.Trunk{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			warnAboutConfig(&config.Config{Trunk: tt.trunk}, zerolog.New(&out))

			warned := strings.Contains(out.String(), "trunk.outbound_uri is empty")
			if warned != tt.wantWarn {
				t.Errorf("warning logged = %v, want %v; log %q", warned, tt.wantWarn, out.String())
			}
			if warned && !strings.Contains(out.String(), `"level":"warn"`) {
				t.Errorf("log %q is not at level warn", out.String())
			}
		})
	}
}

func TestEmergencyOptionsFollowTrunk(t *testing.T) {
	options := emergencyOptions(config.Trunk{AllowedTargets: []string{"119", "112"}, OutboundURI: "sip:gw@192.0.2.20"})
	if !options.OutboundRoute || !slices.Equal(options.Targets, []string{"119", "112"}) {
		t.Errorf("options = %+v, want an outbound route and targets 119, 112", options)
	}
	if emergencyOptions(config.Trunk{AllowedTargets: []string{"119"}}).OutboundRoute {
		t.Error("options without trunk.outbound_uri claim an outbound route")
	}
}
