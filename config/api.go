package config

import "net/netip"

// allowDemoTokenKey defaults to false, so that a file that leaves it out
// never serves the API with the public demo token.
const allowDemoTokenKey = "api.allow_demo_token"

// DemoAPIToken is the published token the API accepts when
// api.allow_demo_token is on and no token is set.
const DemoAPIToken = "demo-api-token"

// API is the section of the HTTP API that the counselor console and the
// supervisor board use.
type API struct {
	// Listen is the IP address and port of the HTTP listener, or empty to
	// serve no API. Default 127.0.0.1:8080.
	Listen string `mapstructure:"listen"`
	// TokenEnv names the environment variable with the bearer token.
	// Default HELPLINE_API_TOKEN.
	TokenEnv string `mapstructure:"token_env"`
	// Token is the bearer token. When it is empty, Load fills it from
	// TokenEnv, or with DemoAPIToken when AllowDemoToken is on.
	Token string `mapstructure:"token" json:"-"`
	// AllowDemoToken permits DemoAPIToken when no token is set. The example
	// file sets true, and a file that leaves it out gets false.
	AllowDemoToken bool `mapstructure:"allow_demo_token"`

	// Address is Listen parsed. It is the zero value when the API is not
	// served: Listen is empty, or no token is set and the demo token is not
	// allowed.
	Address netip.AddrPort `mapstructure:"-"`
	// UsesDemoToken is true when Token is DemoAPIToken because no token
	// was set. The server logs a warning while it is true.
	UsesDemoToken bool `mapstructure:"-"`
}

// Enabled reports whether the API is served: it has an address and a
// token.
func (a API) Enabled() bool {
	return a.Address.IsValid()
}

// Features are the codes a counselor dials on the softphone to change
// state, each a '*' followed by digits.
type Features struct {
	// Login makes the counselor available. Default "*21".
	Login string `mapstructure:"login"`
	// Logout logs the counselor out. Default "*22".
	Logout string `mapstructure:"logout"`
	// Break pauses the counselor. Default "*23".
	Break string `mapstructure:"break"`
	// Back ends a break. Default "*24".
	Back string `mapstructure:"back"`
	// EndWrapUp ends the wrap-up time now. Default "*25".
	EndWrapUp string `mapstructure:"end_wrap_up"`
	// MonitorListen, followed by a counselor id, calls the supervisor who
	// dialled it into that counselor's call to listen. Default "*31".
	MonitorListen string `mapstructure:"monitor_listen"`
	// MonitorWhisper does the same to whisper to the counselor. Default
	// "*32".
	MonitorWhisper string `mapstructure:"monitor_whisper"`
	// MonitorBarge does the same to talk with both. Default "*33".
	MonitorBarge string `mapstructure:"monitor_barge"`
}
