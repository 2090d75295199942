package config

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	cases := []struct {
		name    string
		environ []string
		got     func(*Config) any
		want    any
	}{
		{"realm", []string{"HELPLINE_SIP_REALM=helpline.local"}, func(c *Config) any { return c.SIP.Realm }, "helpline.local"},
		{"ring timeout", []string{"HELPLINE_QUEUE_RING_TIMEOUT=20s"}, func(c *Config) any { return c.Queue.RingTimeout }, 20 * time.Second},
		{"data dir", []string{"HELPLINE_RECORDS_DATA_DIR=/srv/records"}, func(c *Config) any { return c.Records.DataDir }, "/srv/records"},
		{"log level", []string{"HELPLINE_LOG_LEVEL=debug"}, func(c *Config) any { return c.Log.Level }, "debug"},
		{"integer", []string{"HELPLINE_RTP_PORT_MIN=20500"}, func(c *Config) any { return c.RTP.PortMin }, 20500},
		{"zero duration", []string{"HELPLINE_RTP_MEDIA_TIMEOUT=0"}, func(c *Config) any { return c.RTP.MediaTimeout }, time.Duration(0)},
		{"boolean", []string{"HELPLINE_RECORDS_ALLOW_DEMO_KEY=false", "HELPLINE_RECORDS_KEY=k"}, func(c *Config) any { return c.Records.AllowDemoKey }, false},
		{"language", []string{"HELPLINE_IVR_DEFAULT_LANGUAGE=en"}, func(c *Config) any { return c.IVR.DefaultLanguage }, "en"},
		{"hold music", []string{"HELPLINE_IVR_HOLD_MUSIC=quiet_piano"}, func(c *Config) any { return c.IVR.HoldMusic }, "quiet_piano"},
		{"numbers", []string{"HELPLINE_TRUNK_NUMBERS=120, +8220 ,0120"}, func(c *Config) any { return fmt.Sprint(c.Trunk.Numbers) }, "[120 +8220 0120]"},
		{"trusted sources", []string{"HELPLINE_TRUNK_TRUSTED_SOURCES=10.0.0.0/8,192.0.2.7"}, func(c *Config) any { return fmt.Sprint(c.Trunk.TrustedSources) }, "[10.0.0.0/8 192.0.2.7/32]"},
		{
			"listeners",
			[]string{"HELPLINE_SIP_LISTEN=udp/127.0.0.2:5070,tcp/[::1]:5071"},
			func(c *Config) any { return fmt.Sprint(c.SIP.Listen) },
			"[{udp 127.0.0.2:5070} {tcp [::1]:5071}]",
		},
		{"public host follows listeners", []string{"HELPLINE_SIP_LISTEN=udp/127.0.0.2:5070"}, func(c *Config) any { return c.SIP.PublicHost }, "127.0.0.2"},
		{
			"public host and rtp address",
			[]string{"HELPLINE_SIP_PUBLIC_HOST=sip.example.org", "HELPLINE_RTP_ADDRESS=192.0.2.10"},
			func(c *Config) any { return c.RTP.Address },
			netip.MustParseAddr("192.0.2.10"),
		},
		{"general service", []string{"HELPLINE_TRUNK_GENERAL_SERVICE_URI=sips:120@gs.example.org"}, func(c *Config) any { return c.Trunk.GeneralServiceURI }, "sips:120@gs.example.org"},
		{"later entry wins", []string{"HELPLINE_LOG_LEVEL=debug", "HELPLINE_LOG_LEVEL=warn"}, func(c *Config) any { return c.Log.Level }, "warn"},
		{"entry without equals ignored", []string{"HELPLINE_LOG_LEVEL"}, func(c *Config) any { return c.Log.Level }, "info"},
		{"other variables ignored", []string{"LOG_LEVEL=debug", "helpline_log_level=debug"}, func(c *Config) any { return c.Log.Level }, "info"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := mustLoad(t, "", c.environ)
			if got := c.got(cfg); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
			if len(cfg.Warnings) != 0 {
				t.Errorf("warnings = %v, want none", cfg.Warnings)
			}
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	path := writeConfig(t, customConfig)
	environ := []string{"HELPLINE_TEST_PASSWORD_KIM=x", "HELPLINE_QUEUE_RING_TIMEOUT=25s", "HELPLINE_SIP_REALM=from-env"}

	cfg := mustLoad(t, path, environ)

	if got, want := cfg.Queue.RingTimeout, 25*time.Second; got != want {
		t.Errorf("ring timeout = %v, want %v from the environment over the file's 20s", got, want)
	}
	if got, want := cfg.SIP.Realm, "from-env"; got != want {
		t.Errorf("realm = %q, want %q", got, want)
	}
}

func TestEnvProblems(t *testing.T) {
	cases := []struct {
		name    string
		environ []string
		key     string
		envVar  string
		message string
	}{
		{"bad duration", []string{"HELPLINE_QUEUE_RING_TIMEOUT=abc"}, "queue.ring_timeout", "HELPLINE_QUEUE_RING_TIMEOUT", `"abc" is not a duration`},
		{"empty duration", []string{"HELPLINE_SHUTDOWN_DRAIN_TIMEOUT="}, "shutdown.drain_timeout", "HELPLINE_SHUTDOWN_DRAIN_TIMEOUT", "is not a duration"},
		{"bad port", []string{"HELPLINE_RTP_PORT_MIN=70000"}, "rtp.port_min", "HELPLINE_RTP_PORT_MIN", "70000 is out of range"},
		{"port not a number", []string{"HELPLINE_RTP_PORT_MAX=high"}, "rtp.port_max", "HELPLINE_RTP_PORT_MAX", "is not a whole number"},
		{"bad boolean", []string{"HELPLINE_RECORDS_ALLOW_DEMO_KEY=sure"}, "records.allow_demo_key", "HELPLINE_RECORDS_ALLOW_DEMO_KEY", "use true or false"},
		{"bad list entry", []string{"HELPLINE_TRUNK_NUMBERS=120,12a"}, "trunk.numbers.1", "HELPLINE_TRUNK_NUMBERS", `"12a" is not a called number`},
		{"empty list", []string{"HELPLINE_TRUNK_NUMBERS="}, "trunk.numbers", "HELPLINE_TRUNK_NUMBERS", "must list at least one called number"},
		{"bad network", []string{"HELPLINE_TRUNK_TRUSTED_SOURCES=10.0.0.0/99"}, "trunk.trusted_sources.0", "HELPLINE_TRUNK_TRUSTED_SOURCES", "CIDR notation"},
		{"listener without network", []string{"HELPLINE_SIP_LISTEN=127.0.0.1:5060"}, "sip.listen.0", "HELPLINE_SIP_LISTEN", "is not network/address"},
		{"listener bad address", []string{"HELPLINE_SIP_LISTEN=udp/localhost:5060"}, "sip.listen.0.address", "HELPLINE_SIP_LISTEN", "is not an IP address and port"},
		{"listener bad network", []string{"HELPLINE_SIP_LISTEN=sctp/127.0.0.1:5060"}, "sip.listen.0.network", "HELPLINE_SIP_LISTEN", "use one of udp, tcp"},
		{"counselors", []string{"HELPLINE_COUNSELORS=1001"}, "counselors", "HELPLINE_COUNSELORS", "cannot be set from the environment"},
		{"menu", []string{"HELPLINE_IVR_NODES=x"}, "ivr.nodes", "HELPLINE_IVR_NODES", "cannot be set from the environment"},
		{"part of menu", []string{"HELPLINE_IVR_NODES_WELCOME_NEXT=goodbye"}, "ivr.nodes_welcome_next", "HELPLINE_IVR_NODES_WELCOME_NEXT", "ivr.nodes can be set only in the configuration file"},
		{"part of counselor", []string{"HELPLINE_COUNSELORS_0_PASSWORD=x"}, "counselors.0_password", "HELPLINE_COUNSELORS_0_PASSWORD", "counselors can be set only in the configuration file"},
		{"part of listener list", []string{"HELPLINE_SIP_LISTEN_0_ADDRESS=127.0.0.1:5060"}, "sip.listen_0_address", "HELPLINE_SIP_LISTEN_0_ADDRESS", "set the whole list with HELPLINE_SIP_LISTEN"},
		{"typo", []string{"HELPLINE_QUEUE_RING_TIMOUT=20s"}, "queue.ring_timout", "HELPLINE_QUEUE_RING_TIMOUT", "did you mean HELPLINE_QUEUE_RING_TIMEOUT?"},
		{"typo in section", []string{"HELPLINE_LOGG_LEVEL=debug"}, "logg.level", "HELPLINE_LOGG_LEVEL", "did you mean HELPLINE_LOG_LEVEL?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load("", c.environ)

			problem := findProblem(t, validationProblems(t, err), c.key)
			if problem.EnvVar != c.envVar {
				t.Errorf("EnvVar = %q, want %q", problem.EnvVar, c.envVar)
			}
			if !strings.Contains(problem.String(), c.message) {
				t.Errorf("problem %q does not contain %q", problem, c.message)
			}
			if !strings.Contains(err.Error(), c.envVar) {
				t.Errorf("error text does not name %s:\n%v", c.envVar, err)
			}
		})
	}
}

func TestSecretVariablesNotReported(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "counselors.0.password", remove)
	setPath(t, tree, "counselors.0.password_env", "HELPLINE_PASSWORD_1001")
	setPath(t, tree, "records.key_env", "HELPLINE_KEY")
	environ := []string{"HELPLINE_PASSWORD_1001=x", "HELPLINE_KEY=k", "HELPLINE_RECORDS_KEY=unused"}

	cfg, err := loadTree(t, tree, environ)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	for _, w := range cfg.Warnings {
		if w.EnvVar == "HELPLINE_PASSWORD_1001" || w.EnvVar == "HELPLINE_KEY" {
			t.Errorf("secret variable reported: %v", w)
		}
	}
	if got, want := len(cfg.Warnings), 1; got != want {
		t.Errorf("warnings = %v, want only the unused HELPLINE_RECORDS_KEY", cfg.Warnings)
	}
}

func TestEnvName(t *testing.T) {
	cases := []struct {
		key  string
		want string
	}{
		{"sip.realm", "HELPLINE_SIP_REALM"},
		{"queue.ring_timeout", "HELPLINE_QUEUE_RING_TIMEOUT"},
		{"records.allow_demo_key", "HELPLINE_RECORDS_ALLOW_DEMO_KEY"},
		{"ivr.default_language", "HELPLINE_IVR_DEFAULT_LANGUAGE"},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			if got := EnvName(c.key); got != c.want {
				t.Errorf("EnvName(%q) = %q, want %q", c.key, got, c.want)
			}
		})
	}
}

func TestEnvKeysCoverScalarKeys(t *testing.T) {
	want := map[string]envKind{
		"HELPLINE_SIP_LISTEN":            envListeners,
		"HELPLINE_SIP_PUBLIC_HOST":       envScalar,
		"HELPLINE_RTP_PORT_MIN":          envScalar,
		"HELPLINE_TRUNK_TRUSTED_SOURCES": envList,
		"HELPLINE_TRUNK_NUMBERS":         envList,
		"HELPLINE_COUNSELORS":            envFileOnly,
		"HELPLINE_IVR_NODES":             envFileOnly,
		"HELPLINE_IVR_HOLD_MUSIC":        envScalar,
		"HELPLINE_SHUTDOWN_RETRY_AFTER":  envScalar,
	}
	for name, kind := range want {
		target, ok := envKeys[name]
		if !ok {
			t.Errorf("%s is not a known variable", name)
			continue
		}
		if target.kind != kind {
			t.Errorf("%s kind = %d, want %d", name, target.kind, kind)
		}
	}
	if _, ok := envKeys["HELPLINE_COUNSELORS_ID"]; ok {
		t.Error("HELPLINE_COUNSELORS_ID is a variable, want list entries to have none")
	}
}
