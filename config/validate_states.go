package config

import (
	"net/netip"
	"regexp"
	"strconv"
	"time"
)

// featureCodePattern matches a feature code: '*' and one to six digits.
var featureCodePattern = regexp.MustCompile(`^\*[0-9]{1,6}$`)

// validateStates checks the keys of counselor states: the queue's miss
// and wrap-up limits, per-counselor wrap-up, the API and feature codes.
func validateStates(cfg *Config, env environment, ps, warnings *problems) {
	validateQueueLimits(&cfg.Queue, ps)
	validateCounselorWrapUp(cfg.Counselors, cfg.Queue.MaxWrapUp, ps)
	validateAPI(&cfg.API, cfg.SIP.Listen, env, ps, warnings)
	validateFeatures(&cfg.Features, ps)
}

func validateQueueLimits(q *Queue, ps *problems) {
	if q.MaxMissed < 0 {
		ps.add("queue.max_missed", q.MaxMissed, "must not be negative: use 0 (never pause) or a count such as 2")
	}
	requireNonNegative(ps, "queue.busy_skip", q.BusySkip)
	requirePositive(ps, "queue.max_wrap_up", q.MaxWrapUp)
	if !ps.hasKey("queue.max_wrap_up") && !ps.hasKey("queue.wrap_up") && q.WrapUp > q.MaxWrapUp {
		ps.add("queue.wrap_up", q.WrapUp, "is above queue.max_wrap_up (%s): lower wrap_up or raise max_wrap_up", q.MaxWrapUp)
	}
}

// validateCounselorWrapUp checks counselors[].wrap_up against the cap.
func validateCounselorWrapUp(counselors []Counselor, maxWrapUp time.Duration, ps *problems) {
	for i, c := range counselors {
		key := joinKey(joinKey("counselors", strconv.Itoa(i)), "wrap_up")
		switch {
		case c.WrapUp < 0:
			ps.add(key, c.WrapUp, "must not be negative: leave it out for queue.wrap_up, or use a duration such as 1m")
		case maxWrapUp > 0 && c.WrapUp > maxWrapUp:
			ps.add(key, c.WrapUp, "is above queue.max_wrap_up (%s): lower it or raise queue.max_wrap_up", maxWrapUp)
		}
	}
}

// validateAPI parses api.listen into Address and resolves the token:
// api.token, else the variable named by api.token_env, else the demo token
// when allowed. Without a token the API is not served (Address stays zero)
// and a warning says so, so that a file written before the API existed
// still runs.
func validateAPI(a *API, sipListen []Listener, env environment, ps, warnings *problems) {
	if a.TokenEnv != "" && !envNamePattern.MatchString(a.TokenEnv) {
		ps.add("api.token_env", a.TokenEnv, "is not an environment variable name: use letters, digits and _")
	}
	if a.Listen == "" {
		return
	}

	address, err := netip.ParseAddrPort(a.Listen)
	switch {
	case err != nil:
		ps.add("api.listen", a.Listen, "is not an IP address and port: use one such as 127.0.0.1:8080, or empty to serve no API")
		return
	case address.Port() == 0:
		ps.add("api.listen", a.Listen, "has port 0, which binds a random port that clients cannot know: use a fixed port such as 8080")
		return
	}
	for i, l := range sipListen {
		if l.Network == "tcp" && l.Address == address {
			ps.add("api.listen", a.Listen, "is the address of sip.listen.%d: use another port, such as 8080", i)
			return
		}
	}
	a.Address = address

	if a.Token == "" && a.TokenEnv != "" {
		a.Token, _ = env.lookup(a.TokenEnv)
	}
	switch {
	case a.Token != "":
	case a.AllowDemoToken:
		a.Token = DemoAPIToken
		a.UsesDemoToken = true
	case a.TokenEnv == "":
		warnings.add("api.token", nil, "is empty, api.token_env is empty and allow_demo_token is false, so the API is not served: set a token, or set api.listen empty to silence this warning")
		a.Address = netip.AddrPort{}
	default:
		warnings.add("api.token_env", a.TokenEnv, "is not set or empty in the environment and api.token is empty, so the API is not served: export a token (head -c 24 /dev/urandom | base64), or set api.listen empty to silence this warning")
		a.Address = netip.AddrPort{}
	}
}

// validateFeatures checks that every feature code is '*' and digits, and
// that no two features share a code.
func validateFeatures(f *Features, ps *problems) {
	codes := []struct {
		key, code string
	}{
		{"features.login", f.Login},
		{"features.logout", f.Logout},
		{"features.break", f.Break},
		{"features.back", f.Back},
		{"features.end_wrap_up", f.EndWrapUp},
		{"features.monitor_listen", f.MonitorListen},
		{"features.monitor_whisper", f.MonitorWhisper},
		{"features.monitor_barge", f.MonitorBarge},
	}
	seen := make(map[string]string, len(codes))
	for _, c := range codes {
		switch first, duplicate := seen[c.code]; {
		case !featureCodePattern.MatchString(c.code):
			ps.add(c.key, c.code, "is not a feature code: use * and one to six digits, such as *21")
		case duplicate:
			ps.add(c.key, c.code, "is already the code of %s: codes must be unique", first)
		default:
			seen[c.code] = c.key
		}
	}
}
