package main

import (
	"github.com/rs/zerolog"

	"helpline/sip"
	"helpline/web"
)

// The SIP server is what the call routes drive.
var _ web.CallControl = (*sip.Server)(nil)

// registerCallRoutes adds the emergency and monitor routes to api. It does
// nothing while no API server is configured (api is nil).
func registerCallRoutes(api *web.API, server *sip.Server, counselors web.CounselorLookup, log zerolog.Logger) {
	if api == nil {
		return
	}
	web.RegisterCalls(api, web.CallsDeps{Calls: server, Counselors: counselors, Log: log.With().Str("component", "api").Logger()})
}
