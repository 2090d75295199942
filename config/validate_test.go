package config

import (
	"strings"
	"testing"
)

// edit changes one path of the example tree; value remove deletes it.
type edit struct {
	path  string
	value any
}

// ruleCase breaks one rule and names the key and message expected.
type ruleCase struct {
	name    string
	edits   []edit
	environ []string
	key     string
	message string
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := exampleTree(t)
			for _, e := range c.edits {
				setPath(t, tree, e.path, e.value)
			}

			_, err := loadTree(t, tree, c.environ)

			problems := validationProblems(t, err)
			problem := findProblem(t, problems, c.key)
			if !strings.Contains(problem.String(), c.message) {
				t.Errorf("problem %q does not contain %q", problem, c.message)
			}
			label := c.key
			if problem.Label != "" {
				label = problem.Label
			}
			if !strings.Contains(err.Error(), label+":") && !strings.Contains(err.Error(), label+" (set by") {
				t.Errorf("error text does not name %s:\n%v", label, err)
			}
		})
	}
}

func TestExactMessages(t *testing.T) {
	cases := []struct {
		name  string
		edits []edit
		want  string
	}{
		{
			"port out of range",
			[]edit{{"rtp.port_min", 70000}},
			"rtp.port_min: 70000 is out of range: use a port from 1024 to 65535",
		},
		{
			"unknown node",
			[]edit{{"ivr.nodes.welcome.branches.5.next", "who"}},
			`ivr.nodes.welcome.branches.5.next: "who" is not a node: use one of explain, general_service, goodbye, to_concerned_others, to_queue, to_queue_en, welcome, welcome_en, who_for, who_for_en`,
		},
		{
			"bad duration",
			[]edit{{"queue.ring_timeout", "abc"}},
			`queue.ring_timeout: "abc" is not a duration: use Go syntax such as 15s`,
		},
		{
			"key typo",
			[]edit{{"queue.ring_timout", "15s"}},
			`queue.ring_timout: unknown key: did you mean "queue.ring_timeout"?`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := exampleTree(t)
			for _, e := range c.edits {
				setPath(t, tree, e.path, e.value)
			}

			_, err := loadTree(t, tree, nil)

			problems := validationProblems(t, err)
			if len(problems) != 1 {
				t.Fatalf("got %d problems, want 1:\n%s", len(problems), formatProblems(problems))
			}
			if got := problems[0].String(); got != c.want {
				t.Errorf("problem =\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestSchemaRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "unknown section", edits: []edit{{"sipp", map[string]any{"realm": "x"}}}, key: "sipp", message: `did you mean "sip"?`},
		{name: "unknown key far from any", edits: []edit{{"queue.zzzzzzzz", 1}}, key: "queue.zzzzzzzz", message: "use one of ring_timeout, wrap_up, retry_delay"},
		{name: "unknown counselor key", edits: []edit{{"counselors.0.pasword", "x"}}, key: "counselors.0.pasword", message: `did you mean "counselors.0.password"?`},
		{name: "unknown node key", edits: []edit{{"ivr.nodes.welcome.colect", map[string]any{"max_digits": 1}}}, key: "ivr.nodes.welcome.colect", message: `did you mean "ivr.nodes.welcome.collect"?`},
		{name: "unknown collect key", edits: []edit{{"ivr.nodes.welcome.collect.max_digit", 1}}, key: "ivr.nodes.welcome.collect.max_digit", message: "did you mean"},
		{name: "unknown edge key", edits: []edit{{"ivr.nodes.welcome.on_fail.nxt", "goodbye"}}, key: "ivr.nodes.welcome.on_fail.nxt", message: "unknown key"},
		{name: "empty key", edits: []edit{{"queue.", 1}}, key: `queue.""`, message: "is an empty key"},
		{name: "section as scalar", edits: []edit{{"sip", "foo"}}, key: "sip", message: "is not a mapping"},
		{name: "list as scalar", edits: []edit{{"trunk.numbers", "120"}}, key: "trunk.numbers", message: "is not a list"},
		{name: "list of mappings as scalar", edits: []edit{{"counselors", "1001"}}, key: "counselors", message: "is not a list"},
		{name: "text as number", edits: []edit{{"trunk.numbers", []any{120}}}, key: "trunk.numbers.0", message: "is a number, not text: put it in quotes"},
		{name: "text as boolean", edits: []edit{{"sip.realm", true}}, key: "sip.realm", message: "is a boolean"},
		{name: "text as list", edits: []edit{{"sip.realm", []any{"a"}}}, key: "sip.realm", message: "is not text"},
		{name: "whole number as text", edits: []edit{{"rtp.port_min", "abc"}}, key: "rtp.port_min", message: "is not a whole number"},
		{name: "whole number as fraction", edits: []edit{{"rtp.port_max", 1.5}}, key: "rtp.port_max", message: "is not a whole number"},
		{name: "boolean as word", edits: []edit{{"records.allow_demo_key", "maybe"}}, key: "records.allow_demo_key", message: "use true or false"},
		{name: "duration without unit", edits: []edit{{"queue.ring_timeout", 15}}, key: "queue.ring_timeout", message: "add a unit, such as 15s"},
		{name: "duration as list", edits: []edit{{"queue.wrap_up", []any{"1s"}}}, key: "queue.wrap_up", message: "is not a duration"},
		{name: "address as number", edits: []edit{{"rtp.address", 7}}, key: "rtp.address", message: "is not an IP address"},
		{name: "network as number", edits: []edit{{"trunk.trusted_sources", []any{8}}}, key: "trunk.trusted_sources.0", message: "CIDR"},
		{name: "listener as scalar", edits: []edit{{"sip.listen", []any{"udp"}}}, key: "sip.listen.0", message: "is not a mapping"},
		{name: "nodes as list", edits: []edit{{"ivr.nodes", []any{"welcome"}}}, key: "ivr.nodes", message: "is not a mapping"},
	})
}

func TestSIPRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "no listener", edits: []edit{{"sip.listen", []any{}}}, key: "sip.listen", message: "must list at least one listener"},
		{name: "bad network", edits: []edit{{"sip.listen.0.network", "sctp"}}, key: "sip.listen.0.network", message: `"sctp" is not supported: use one of udp, tcp`},
		{name: "upper-case network", edits: []edit{{"sip.listen.0.network", "UDP"}}, key: "sip.listen.0.network", message: "use one of udp, tcp"},
		{name: "host name address", edits: []edit{{"sip.listen.0.address", "localhost:5060"}}, key: "sip.listen.0.address", message: "is not an IP address and port"},
		{name: "address without port", edits: []edit{{"sip.listen.0.address", "127.0.0.1"}}, key: "sip.listen.0.address", message: "is not an IP address and port"},
		{name: "port zero", edits: []edit{{"sip.listen.0.address", "127.0.0.1:0"}}, key: "sip.listen.0.address", message: "has port 0"},
		{name: "missing address", edits: []edit{{"sip.listen.0.address", remove}}, key: "sip.listen.0.address", message: "must be set"},
		{name: "duplicate listener", edits: []edit{{"sip.listen.1.network", "udp"}}, key: "sip.listen.1", message: "is listed twice"},
		{name: "bad public host", edits: []edit{{"sip.public_host", "bad host!"}}, key: "sip.public_host", message: "is not a host name or IP address"},
		{name: "public host with port", edits: []edit{{"sip.public_host", "192.0.2.1:5060"}}, key: "sip.public_host", message: "without port"},
		{name: "wildcard listener without public host", edits: []edit{{"sip.listen.0.address", "0.0.0.0:5060"}}, key: "sip.public_host", message: "wildcard address"},
		{name: "empty realm", edits: []edit{{"sip.realm", ""}}, key: "sip.realm", message: "must not be empty"},
		{name: "quote in realm", edits: []edit{{"sip.realm", `help"line`}}, key: "sip.realm", message: "control character or one of"},
		{name: "line break in user agent", edits: []edit{{"sip.user_agent", "helpline\r\nX: y"}}, key: "sip.user_agent", message: "control character"},
		{name: "empty user agent", edits: []edit{{"sip.user_agent", ""}}, key: "sip.user_agent", message: "must not be empty"},
		{name: "zero min expires", edits: []edit{{"sip.min_expires", "0s"}}, key: "sip.min_expires", message: "must be positive"},
		{name: "fractional max expires", edits: []edit{{"sip.max_expires", "1500ms"}}, key: "sip.max_expires", message: "not a whole number of seconds"},
		{name: "default below min", edits: []edit{{"sip.default_expires", "30s"}}, key: "sip.default_expires", message: "is below sip.min_expires"},
		{name: "default above max", edits: []edit{{"sip.default_expires", "2h"}}, key: "sip.default_expires", message: "is above sip.max_expires"},
		{name: "zero min_se", edits: []edit{{"sip.min_se", "0s"}}, key: "sip.min_se", message: "must be positive"},
		{name: "fractional session_expires", edits: []edit{{"sip.session_expires", "1800500ms"}}, key: "sip.session_expires", message: "not a whole number of seconds"},
		{name: "session_expires below min_se", edits: []edit{{"sip.session_expires", "60s"}}, key: "sip.session_expires", message: "is below sip.min_se"},
	})
}

func TestRTPRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "port max below range", edits: []edit{{"rtp.port_max", 80}}, key: "rtp.port_max", message: "80 is out of range"},
		{name: "max below min", edits: []edit{{"rtp.port_min", 21000}}, key: "rtp.port_max", message: "leaves fewer than 2 ports"},
		{name: "one port", edits: []edit{{"rtp.port_max", 20000}}, key: "rtp.port_max", message: "leaves fewer than 2 ports"},
		{name: "negative media timeout", edits: []edit{{"rtp.media_timeout", "-1s"}}, key: "rtp.media_timeout", message: "must not be negative"},
		{name: "bad address", edits: []edit{{"rtp.address", "abc"}}, key: "rtp.address", message: "is not an IP address"},
		{name: "wildcard address", edits: []edit{{"rtp.address", "0.0.0.0"}}, key: "rtp.address", message: "wildcard address"},
		{name: "host name public host", edits: []edit{{"sip.public_host", "sip.example.org"}}, key: "rtp.address", message: "is a host name"},
	})
}

func TestTrunkRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "no trusted source", edits: []edit{{"trunk.trusted_sources", []any{}}}, key: "trunk.trusted_sources", message: "must list at least one network"},
		{name: "bad prefix length", edits: []edit{{"trunk.trusted_sources", []any{"10.0.0.0/33"}}}, key: "trunk.trusted_sources.0", message: "CIDR notation"},
		{name: "host bits set", edits: []edit{{"trunk.trusted_sources", []any{"10.0.0.1/8"}}}, key: "trunk.trusted_sources.0", message: "write 10.0.0.0/8"},
		{name: "no number", edits: []edit{{"trunk.numbers", []any{}}}, key: "trunk.numbers", message: "must list at least one called number"},
		{name: "letter in number", edits: []edit{{"trunk.numbers", []any{"12a"}}}, key: "trunk.numbers.0", message: "is not a called number"},
		{name: "outbound not SIP", edits: []edit{{"trunk.outbound_uri", "tel:119"}}, key: "trunk.outbound_uri", message: "is not a SIP URI"},
		{name: "target with letters", edits: []edit{{"trunk.allowed_targets", []any{"11a"}}}, key: "trunk.allowed_targets.0", message: "is not a phone number"},
		{name: "target twice", edits: []edit{{"trunk.allowed_targets", []any{"119", "119"}}}, key: "trunk.allowed_targets.1", message: "is listed twice"},
		{name: "empty number", edits: []edit{{"trunk.numbers", []any{""}}}, key: "trunk.numbers.0", message: "is not a called number"},
		{name: "plus inside number", edits: []edit{{"trunk.numbers", []any{"12+0"}}}, key: "trunk.numbers.0", message: "optional leading +"},
		{name: "duplicate number", edits: []edit{{"trunk.numbers", []any{"120", "120"}}}, key: "trunk.numbers.1", message: "is listed twice"},
		{name: "http general service", edits: []edit{{"trunk.general_service_uri", "http://example.org"}}, key: "trunk.general_service_uri", message: "use a sip: or sips: URI"},
		{name: "general service without host", edits: []edit{{"trunk.general_service_uri", "sip:120@"}}, key: "trunk.general_service_uri", message: "has no host"},
		{name: "general service with space", edits: []edit{{"trunk.general_service_uri", "sip:120@ host"}}, key: "trunk.general_service_uri", message: "white space"},
	})
}

func TestCounselorRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "no counselor", edits: []edit{{"counselors", []any{}}}, key: "counselors", message: "must list at least one counselor"},
		{name: "counselors left out", edits: []edit{{"counselors", remove}}, key: "counselors", message: "must list at least one counselor"},
		{name: "empty id", edits: []edit{{"counselors.0.id", ""}}, key: "counselors.0.id", message: "must not be empty"},
		{name: "dash in id", edits: []edit{{"counselors.0.id", "10-01"}}, key: "counselors.0.id", message: "ASCII letters and digits only"},
		{name: "duplicate id", edits: []edit{{"counselors.1.id", "1001"}}, key: "counselors.1.id", message: "is already the id of counselors.0"},
		{name: "empty password", edits: []edit{{"counselors.0.password", ""}}, key: "counselors.0.password", message: "must not be empty"},
		{name: "password env unset", edits: []edit{{"counselors.0.password", remove}, {"counselors.0.password_env", "HELPLINE_TEST_PW"}}, key: "counselors.0.password_env", message: "is not set or empty in the environment"},
		{name: "password env empty", edits: []edit{{"counselors.0.password", remove}, {"counselors.0.password_env", "HELPLINE_TEST_PW"}}, environ: []string{"HELPLINE_TEST_PW="}, key: "counselors.0.password_env", message: "is not set or empty"},
		{name: "password and password env", edits: []edit{{"counselors.0.password_env", "HELPLINE_TEST_PW"}}, environ: []string{"HELPLINE_TEST_PW=x"}, key: "counselors.0.password_env", message: "keep only one of them"},
		{name: "bad password env name", edits: []edit{{"counselors.0.password", remove}, {"counselors.0.password_env", "1-PW"}}, key: "counselors.0.password_env", message: "is not an environment variable name"},
	})
}

func TestQueueRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "empty name", edits: []edit{{"queues.0.name", ""}, {"ivr.nodes.to_queue.queue", remove}, {"ivr.nodes.to_queue.hangup", true}}, key: "queues.0.name", message: "must not be empty"},
		{name: "space in name", edits: []edit{{"queues.0.name", "a b"}}, key: "queues.0.name", message: "is not a plain name"},
		{name: "no queue", edits: []edit{{"queues", []any{}}}, key: "queues", message: "must list at least one queue"},
		{name: "same name twice", edits: []edit{{"queues", []any{map[string]any{"name": "a"}, map[string]any{"name": "a"}}}}, key: "queues.1.name", message: "is already the name of queues.0"},
		{name: "zero ring timeout", edits: []edit{{"queue.ring_timeout", "0s"}}, key: "queue.ring_timeout", message: "must be positive"},
		{name: "negative wrap up", edits: []edit{{"queue.wrap_up", "-1s"}}, key: "queue.wrap_up", message: "must not be negative"},
		{name: "negative retry delay", edits: []edit{{"queue.retry_delay", "-5s"}}, key: "queue.retry_delay", message: "must not be negative"},
		{name: "negative announce interval", edits: []edit{{"queue.announce_interval", "-1s"}}, key: "queue.announce_interval", message: "use 0 to turn announcements off"},
		{name: "announce interval below a second", edits: []edit{{"queue.announce_interval", "60ms"}}, key: "queue.announce_interval", message: "is shorter than 1s"},
	})
}

func TestRecordsRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "empty data dir", edits: []edit{{"records.data_dir", ""}}, key: "records.data_dir", message: "must not be empty"},
		{name: "empty file", edits: []edit{{"records.file", ""}}, key: "records.file", message: "must not be empty"},
		{name: "file with folder", edits: []edit{{"records.file", "db/records.db"}}, key: "records.file", message: "is not a plain file name"},
		{name: "file dot dot", edits: []edit{{"records.file", ".."}}, key: "records.file", message: "is not a plain file name"},
		{name: "bad key env name", edits: []edit{{"records.key_env", "RECORDS-KEY"}}, key: "records.key_env", message: "is not an environment variable name"},
		{name: "no key source", edits: []edit{{"records.key_env", ""}, {"records.allow_demo_key", false}}, key: "records.key_file", message: "must be set because records.key_env is empty"},
		{name: "key variable unset", edits: []edit{{"records.allow_demo_key", false}}, key: "records.key_env", message: "is not set or empty in the environment"},
		{name: "negative retention", edits: []edit{{"records.retention_days", -1}}, key: "records.retention_days", message: "-1 is negative: use 0 to keep records forever"},
		{name: "purge time out of range", edits: []edit{{"records.purge_at", "25:00"}}, key: "records.purge_at", message: `"25:00" is not a time of day: use HH:MM`},
		{name: "purge time without minutes", edits: []edit{{"records.purge_at", "3"}}, key: "records.purge_at", message: "use HH:MM in local time"},
		{name: "purge time with seconds", edits: []edit{{"records.purge_at", "03:30:00"}}, key: "records.purge_at", message: "use HH:MM in local time"},
	})
}

func TestLogAndShutdownRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "bad level", edits: []edit{{"log.level", "verbose"}}, key: "log.level", message: "use one of debug, info, warn, error"},
		{name: "bad format", edits: []edit{{"log.format", "xml"}}, key: "log.format", message: "use one of auto, json, console"},
		{name: "zero drain timeout", edits: []edit{{"shutdown.drain_timeout", 0}}, key: "shutdown.drain_timeout", message: "must be positive"},
		{name: "short retry after", edits: []edit{{"shutdown.retry_after", "500ms"}}, key: "shutdown.retry_after", message: "use at least 1s"},
		{name: "fractional retry after", edits: []edit{{"shutdown.retry_after", "1500ms"}}, key: "shutdown.retry_after", message: "not a whole number of seconds"},
	})
}

func TestIVRRules(t *testing.T) {
	goodbye := "ivr.nodes.goodbye"
	runRuleCases(t, []ruleCase{
		{name: "unknown start", edits: []edit{{"ivr.start", "nowhere"}}, key: "ivr.start", message: `"nowhere" is not a node`},
		{name: "empty start", edits: []edit{{"ivr.start", ""}}, key: "ivr.start", message: "must name a node"},
		{name: "bad language", edits: []edit{{"ivr.default_language", "fr"}}, key: "ivr.default_language", message: "use one of ko, en"},
		{name: "no nodes", edits: []edit{{"ivr.nodes", map[string]any{}}}, key: "ivr.nodes", message: "must list at least one node"},
		{name: "bad node name", edits: []edit{{"ivr.nodes.bad name", map[string]any{"hangup": true}}}, key: "ivr.nodes.bad name", message: "is not a valid node name"},
		{name: "unknown next", edits: []edit{{"ivr.nodes.explain.next", "nowhere"}}, key: "ivr.nodes.explain.next", message: "is not a node"},
		{name: "upper-case next", edits: []edit{{"ivr.nodes.explain.next", "General_Service"}}, key: "ivr.nodes.explain.next", message: `read in lower case, so write "general_service"`},
		{name: "unknown branch next", edits: []edit{{"ivr.nodes.welcome.branches.9.next", "nowhere"}}, key: "ivr.nodes.welcome.branches.9.next", message: "is not a node"},
		{name: "branch without next", edits: []edit{{"ivr.nodes.welcome.branches.9.next", remove}}, key: "ivr.nodes.welcome.branches.9.next", message: "must name a node"},
		{name: "unknown on_timeout next", edits: []edit{{"ivr.nodes.who_for.on_timeout.next", "nowhere"}}, key: "ivr.nodes.who_for.on_timeout.next", message: "is not a node"},
		{name: "unknown on_fail next", edits: []edit{{"ivr.nodes.welcome.on_fail.next", "nowhere"}}, key: "ivr.nodes.welcome.on_fail.next", message: "is not a node"},
		{name: "unknown fallback", edits: []edit{{"ivr.nodes.general_service.fallback", "nowhere"}}, key: "ivr.nodes.general_service.fallback", message: "is not a node"},
		{name: "node without action", edits: []edit{{goodbye + ".hangup", remove}}, key: goodbye, message: "does nothing after its prompts"},
		{name: "hangup false", edits: []edit{{goodbye + ".hangup", false}}, key: goodbye, message: "does nothing after its prompts"},
		{name: "two actions", edits: []edit{{goodbye + ".next", "explain"}}, key: goodbye, message: "has next and hangup: a node does exactly one of"},
		{name: "collect and queue", edits: []edit{{"ivr.nodes.welcome.queue", "loneliness"}}, key: "ivr.nodes.welcome", message: "has collect and queue"},
		{name: "branches without collect", edits: []edit{{"ivr.nodes.to_queue.branches", map[string]any{"1": map[string]any{"next": "goodbye"}}}}, key: "ivr.nodes.to_queue.branches", message: "is used only by a node with collect"},
		{name: "on_timeout without collect", edits: []edit{{"ivr.nodes.to_queue.on_timeout", map[string]any{"next": "goodbye"}}}, key: "ivr.nodes.to_queue.on_timeout", message: "is used only by a node with collect"},
		{name: "on_fail without collect", edits: []edit{{"ivr.nodes.to_queue.on_fail", map[string]any{"next": "goodbye"}}}, key: "ivr.nodes.to_queue.on_fail", message: "is used only by a node with collect"},
		{name: "collect without on_fail", edits: []edit{{"ivr.nodes.welcome.on_fail", remove}}, key: "ivr.nodes.welcome.on_fail", message: "must be set for a node with collect"},
		{name: "collect without branches", edits: []edit{{"ivr.nodes.welcome_en.branches", remove}}, key: "ivr.nodes.welcome_en.branches", message: "must list at least one digit string"},
		{name: "zero max digits", edits: []edit{{"ivr.nodes.welcome.collect.max_digits", 0}}, key: "ivr.nodes.welcome.collect.max_digits", message: "must be at least 1"},
		{name: "zero max tries", edits: []edit{{"ivr.nodes.welcome.collect.max_tries", 0}}, key: "ivr.nodes.welcome.collect.max_tries", message: "must be at least 1"},
		{name: "zero first digit timeout", edits: []edit{{"ivr.nodes.welcome.collect.first_digit_timeout", "0s"}}, key: "ivr.nodes.welcome.collect.first_digit_timeout", message: "must be positive"},
		{name: "negative inter digit timeout", edits: []edit{{"ivr.nodes.welcome.collect.inter_digit_timeout", "-1s"}}, key: "ivr.nodes.welcome.collect.inter_digit_timeout", message: "must be positive"},
		{name: "missing first digit timeout", edits: []edit{{"ivr.nodes.welcome.collect.first_digit_timeout", remove}}, key: "ivr.nodes.welcome.collect.first_digit_timeout", message: "must be positive"},
		{name: "bad invalid prompt", edits: []edit{{"ivr.nodes.welcome.collect.invalid_prompt", "../x"}}, key: "ivr.nodes.welcome.collect.invalid_prompt", message: "is not a prompt name"},
		{name: "letter branch", edits: []edit{{"ivr.nodes.welcome.branches.x", map[string]any{"next": "goodbye"}}}, key: "ivr.nodes.welcome.branches.x", message: "use the DTMF keys 0-9, * and #"},
		{name: "branch longer than max digits", edits: []edit{{"ivr.nodes.welcome.branches.55", map[string]any{"next": "goodbye"}}}, key: "ivr.nodes.welcome.branches.55", message: "has more digits than collect.max_digits (1)"},
		{name: "http transfer", edits: []edit{{"ivr.nodes.general_service.transfer", "http://example.org"}}, key: "ivr.nodes.general_service.transfer", message: `or "general_service" for trunk.general_service_uri`},
		{name: "transfer without fallback", edits: []edit{{"ivr.nodes.general_service.fallback", remove}}, key: "ivr.nodes.general_service.fallback", message: "must name a node for a transfer node"},
		{name: "fallback without transfer", edits: []edit{{goodbye + ".fallback", "explain"}}, key: goodbye + ".fallback", message: "is used only by a node with transfer"},
		{name: "other queue", edits: []edit{{"ivr.nodes.to_queue.queue", "other"}}, key: "ivr.nodes.to_queue.queue", message: "is not a configured queue: use one of loneliness_ko, loneliness_en, concerned_others, or add it to queues"},
		{name: "unknown set attribute", edits: []edit{{"ivr.nodes.welcome.branches.9.set.mood", "ok"}}, key: "ivr.nodes.welcome.branches.9.set.mood", message: "use one of caller_type, language"},
		{name: "bad set language", edits: []edit{{"ivr.nodes.welcome.branches.9.set.language", "fr"}}, key: "ivr.nodes.welcome.branches.9.set.language", message: "use one of ko, en"},
		{name: "bad set caller type", edits: []edit{{"ivr.nodes.who_for.branches.1.set.caller_type", "other"}}, key: "ivr.nodes.who_for.branches.1.set.caller_type", message: "use one of self, someone_else"},
		{name: "bad node set", edits: []edit{{"ivr.nodes.explain.set", map[string]any{"language": "de"}}}, key: "ivr.nodes.explain.set.language", message: "use one of ko, en"},
		{name: "bad on_fail set", edits: []edit{{"ivr.nodes.who_for.on_fail.set", map[string]any{"caller_type": "x"}}}, key: "ivr.nodes.who_for.on_fail.set.caller_type", message: "is not allowed"},
		{name: "empty prompt", edits: []edit{{"ivr.nodes.welcome.play", []any{""}}}, key: "ivr.nodes.welcome.play.0", message: "must not be empty"},
		{name: "prompt with folder", edits: []edit{{"ivr.nodes.welcome.play", []any{"../../etc/passwd"}}}, key: "ivr.nodes.welcome.play.0", message: "is not a prompt name"},
		{name: "bad hold prompt", edits: []edit{{"ivr.hold_prompt", "a/b"}}, key: "ivr.hold_prompt", message: "is not a prompt name"},
		{name: "bad hold music", edits: []edit{{"ivr.hold_music", "a b"}}, key: "ivr.hold_music", message: "is not a prompt name"},
		{name: "self loop", edits: []edit{{"ivr.nodes.explain.next", "explain"}}, key: "ivr.nodes.explain.next", message: "closes the loop explain → explain"},
		{
			name: "loop through fallback",
			edits: []edit{
				{goodbye + ".hangup", remove},
				{goodbye + ".next", "general_service"},
			},
			key:     goodbye + ".next",
			message: "closes the loop general_service → goodbye → general_service",
		},
	})
}

func TestAllProblemsCollected(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "rtp.port_min", 70000)
	setPath(t, tree, "queue.ring_timeout", "abc")
	setPath(t, tree, "log.format", "xml")
	setPath(t, tree, "counselors.2.id", "1001")
	setPath(t, tree, "ivr.nodes.explain.next", "nowhere")
	setPath(t, tree, "records.typo", true)

	_, err := loadTree(t, tree, nil)

	problems := validationProblems(t, err)
	for _, key := range []string{"rtp.port_min", "queue.ring_timeout", "log.format", "counselors.2.id", "ivr.nodes.explain.next", "records.typo"} {
		findProblem(t, problems, key)
	}
	if len(problems) != 6 {
		t.Errorf("got %d problems, want 6:\n%s", len(problems), formatProblems(problems))
	}
}

func TestUndecodableValueReportedOnce(t *testing.T) {
	cases := []struct {
		name string
		path string
		bad  any
	}{
		{"duration", "queue.ring_timeout", "abc"},
		{"port", "rtp.port_min", "abc"},
		{"listener address", "sip.listen.0.address", "nowhere"},
		{"expires", "sip.min_expires", "soon"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := exampleTree(t)
			setPath(t, tree, c.path, c.bad)

			_, err := loadTree(t, tree, nil)

			problems := validationProblems(t, err)
			if len(problems) != 1 || problems[0].Key != c.path {
				t.Errorf("problems =\n%s\nwant one about %s", formatProblems(problems), c.path)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	cases := []struct {
		name    string
		edits   []edit
		environ []string
		key     string
		message string
	}{
		{
			name:    "unreachable node",
			edits:   []edit{{"ivr.nodes.spare", map[string]any{"play": []any{"goodbye"}, "hangup": true}}},
			key:     "ivr.nodes.spare",
			message: `is not reachable from ivr.start "welcome"`,
		},
		{
			name:    "trust everyone",
			edits:   []edit{{"trunk.trusted_sources", []any{"0.0.0.0/0"}}},
			key:     "trunk.trusted_sources.0",
			message: "trusts every source address",
		},
		{
			name:    "min_se below the RFC 4028 floor",
			edits:   []edit{{"sip.min_se", "2s"}},
			key:     "sip.min_se",
			message: "is below the 90s that RFC 4028 requires",
		},
		{
			name:    "unknown variable",
			environ: []string{"HELPLINE_COLOR=blue"},
			key:     "color",
			message: "is not a configuration variable and is ignored",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := exampleTree(t)
			for _, e := range c.edits {
				setPath(t, tree, e.path, e.value)
			}

			cfg, err := loadTree(t, tree, c.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}

			warning := findProblem(t, cfg.Warnings, c.key)
			if !strings.Contains(warning.String(), c.message) {
				t.Errorf("warning %q does not contain %q", warning, c.message)
			}
		})
	}
}

func TestIsHost(t *testing.T) {
	cases := []struct {
		text string
		want bool
	}{
		{"sip.example.org", true},
		{"sip.example.org.", true},
		{"localhost", true},
		{"192.0.2.10", true},
		{"2001:db8::10", true},
		{"[2001:db8::10]", false},
		{"-bad.example.org", false},
		{"bad-.example.org", false},
		{"two..dots", false},
		{"under_score.example.org", false},
		{strings.Repeat("a", 64) + ".example.org", false},
		{strings.Repeat("abcdefghi.", 26) + "org", false},
		{"", false},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			if got := isHost(c.text); got != c.want {
				t.Errorf("isHost(%q) = %v, want %v", c.text, got, c.want)
			}
		})
	}
}
