package main

import (
	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/web"
)

// emergencyOptions returns the emergency services a counselor can call
// into a call, from the trunk settings.
func emergencyOptions(trunk config.Trunk) web.EmergencyOptions {
	return web.EmergencyOptions{Targets: trunk.AllowedTargets, OutboundRoute: trunk.OutboundURI != ""}
}

// warnAboutEmergencyRoute logs a warning when counselors are given
// outside numbers that no gateway can reach: the emergency button, the
// emergency feature code and transfers to these numbers would all fail
// at the moment of need.
func warnAboutEmergencyRoute(trunk config.Trunk, log zerolog.Logger) {
	if len(trunk.AllowedTargets) == 0 || trunk.OutboundURI != "" {
		return
	}
	log.Warn().Strs("allowed_targets", trunk.AllowedTargets).
		Msg("trunk.allowed_targets is set but trunk.outbound_uri is empty, so counselors cannot call emergency services or transfer to these numbers: set trunk.outbound_uri to the outbound gateway")
}
