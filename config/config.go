// Package config owns the helpline configuration: it reads one YAML file
// with viper, applies HELPLINE_<SECTION>_<KEY> environment overrides, and
// returns one typed Config that passed a single validation step. Viper is
// used only inside this package.
//
// Values that end up in SIP follow RFC 3261. Listeners are UDP, TCP or TLS
// (sections 18 and 26). The digest realm and registration lifetimes feed the
// registrar (sections 10 and 22). Retry-After is whole seconds (section
// 20.33), and transfer targets are sip: or sips: URIs (section 19.1).
//
// The embedded helpline.example.yaml is the reference configuration and the
// source of defaults. docs/configuration.md describes every key.
package config

import (
	_ "embed"
	"fmt"
	"net/netip"
	"time"

	"helpline/ivr"
)

//go:embed helpline.example.yaml
var exampleYAML []byte

// Example returns a copy of the embedded example configuration, which the
// server runs when no --config is given.
func Example() []byte {
	return append([]byte(nil), exampleYAML...)
}

// Config is the whole validated configuration. Load fills it, and code
// outside this package only reads it.
type Config struct {
	SIP        SIP         `mapstructure:"sip"`
	RTP        RTP         `mapstructure:"rtp"`
	Trunk      Trunk       `mapstructure:"trunk"`
	Counselors []Counselor `mapstructure:"counselors"`
	Queue      Queue       `mapstructure:"queue"`
	Queues     []QueueDef  `mapstructure:"queues"`
	IVR        ivr.Graph   `mapstructure:"ivr"`
	Records    Records     `mapstructure:"records"`
	Log        Log         `mapstructure:"log"`
	Shutdown   Shutdown    `mapstructure:"shutdown"`
	API        API         `mapstructure:"api"`
	Features   Features    `mapstructure:"features"`

	// Path is the file the configuration came from, or empty for the
	// embedded example.
	Path string `mapstructure:"-"`
	// Warnings lists findings that do not stop the server, such as a menu
	// node that no call can reach. The server logs them at start-up.
	Warnings []Problem `mapstructure:"-"`
	// UsesDemoKey is true when records.allow_demo_key is on and no key
	// source has a value: key_env names a variable that is unset or empty
	// in the environment given to Load, and key_file is empty. The server
	// logs a warning while it is true. The records package decides in the
	// end, because only it reads key_file.
	UsesDemoKey bool `mapstructure:"-"`

	Callbacks Callbacks `mapstructure:"callbacks"`
	Cluster   Cluster   `mapstructure:"cluster"`
	Web       Web       `mapstructure:"web"`
}

// SIP is the signalling section.
type SIP struct {
	// Listen lists the sockets that receive SIP. Default: UDP and TCP on
	// 127.0.0.1:5060.
	Listen []Listener `mapstructure:"listen"`
	// PublicHost is the host name or IP address written into Contact
	// headers and SDP. Load fills it with the first listener's IP address
	// when the file leaves it empty (the default).
	PublicHost string `mapstructure:"public_host"`
	// Realm is the digest authentication realm. Default: "helpline".
	Realm string `mapstructure:"realm"`
	// DigestAlgorithms lists the digest challenges a 401 carries, in
	// order: MD5, SHA-256 or both. Credentials with either algorithm are
	// accepted whatever this lists. Default: MD5 only, because softphones
	// built on libre 1.x (baresip 1.0) reject any 401 that names SHA-256.
	DigestAlgorithms []string `mapstructure:"digest_algorithms"`
	// UserAgent is the User-Agent and Server header value. Default:
	// "helpline".
	UserAgent string `mapstructure:"user_agent"`
	// MinExpires is the shortest registration accepted. A shorter request
	// gets 423 Interval Too Brief. Whole seconds, default 60s.
	MinExpires time.Duration `mapstructure:"min_expires"`
	// MaxExpires is the longest registration granted. A longer request is
	// shortened to it. Whole seconds, default 1h.
	MaxExpires time.Duration `mapstructure:"max_expires"`
	// DefaultExpires is the lifetime of a REGISTER without an Expires
	// value. Whole seconds, default 10m.
	DefaultExpires time.Duration `mapstructure:"default_expires"`
	// SessionExpires is the session interval (RFC 4028) granted to a
	// caller that supports session timers but asks for none. Whole
	// seconds, default 30m; at least min_se.
	SessionExpires time.Duration `mapstructure:"session_expires"`
	// MinSE is the shortest session interval accepted; a shorter
	// Session-Expires gets 422 with Min-SE. Whole seconds, default 90s,
	// the floor of RFC 4028. Values from 1s to 89s are accepted with a
	// warning, for tests only.
	MinSE time.Duration `mapstructure:"min_se"`
	// RateLimit limits the new INVITEs and REGISTERs of each source.
	RateLimit RateLimit `mapstructure:"rate_limit"`
	// AuthLockout locks a counselor id at one address after repeated
	// digest authentication failures.
	AuthLockout AuthLockout `mapstructure:"auth_lockout"`
	// TLS is the certificate of the tls listeners.
	TLS SIPTLS `mapstructure:"tls"`
	// SecureCounselors requires TLS and SRTP of counselors outside the
	// office networks.
	SecureCounselors SecureCounselors `mapstructure:"secure_counselors"`
}

// Listener is one SIP socket.
type Listener struct {
	// Network is "udp", "tcp" or "tls".
	Network string `mapstructure:"network"`
	// Address is the IP address and port to bind.
	Address netip.AddrPort `mapstructure:"address"`
}

// RTP is the media section.
type RTP struct {
	// Address is the IP address that RTP sockets bind to and that SDP
	// advertises. Load fills it from sip.public_host (which must then be an
	// IP address) when the file leaves it empty (the default).
	Address netip.Addr `mapstructure:"address"`
	// PortMin and PortMax bound the RTP ports, inclusive. Defaults 20000
	// and 20999.
	PortMin int `mapstructure:"port_min"`
	PortMax int `mapstructure:"port_max"`
	// MediaTimeout ends a call when a leg sends no RTP for this long, and 0
	// disables the check. Default 60s.
	MediaTimeout time.Duration `mapstructure:"media_timeout"`
	// HoldTimeout ends a call when a party that holds it sends no RTP for
	// this long, and 0 disables the check. Default 0.
	HoldTimeout time.Duration `mapstructure:"hold_timeout"`
}

// Trunk is the section about calls from the 120 call center.
type Trunk struct {
	// TrustedSources are the networks whose INVITEs are accepted as trunk
	// calls. Other sources get 403 Forbidden. Default: 127.0.0.0/8.
	TrustedSources []netip.Prefix `mapstructure:"trusted_sources"`
	// Numbers are the called numbers (Request-URI user part) that the
	// server accepts. Other numbers get 404 Not Found. Default: "120".
	Numbers []string `mapstructure:"numbers"`
	// GeneralServiceURI is the sip: or sips: URI of the 120 general
	// service, or empty (the default) when there is none.
	GeneralServiceURI string `mapstructure:"general_service_uri"`
	// OutboundURI is the sip: or sips: URI of the gateway that carries
	// calls to outside numbers (callbacks, transfers, emergency services).
	// The number replaces its user part. Empty (the default): no outside
	// calls.
	OutboundURI string `mapstructure:"outbound_uri"`
	// AllowedTargets are the outside numbers that counselors may transfer
	// a caller to or call into a running call, such as 119, 112 and 109.
	AllowedTargets []string `mapstructure:"allowed_targets"`
	// EmergencyCode is the feature code a counselor presses during a call,
	// followed by an allowed target and #, to call that target into the
	// call: 1 to 4 keys of 0-9 and *, starting with *. Default "*9".
	EmergencyCode string `mapstructure:"emergency_code"`
}

// Counselor is one person who may register a softphone.
type Counselor struct {
	// ID is the SIP user name: ASCII letters and digits.
	ID string `mapstructure:"id"`
	// Name is shown on status pages.
	Name string `mapstructure:"name"`
	// Password is the digest password. When PasswordEnv is set, Load fills
	// it from that environment variable.
	Password string `mapstructure:"password" json:"-"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `mapstructure:"password_env"`
	// WrapUp is this counselor's pause after each call, or 0 (the default)
	// for queue.wrap_up. It may not exceed queue.max_wrap_up.
	WrapUp time.Duration `mapstructure:"wrap_up"`
	// Supervisor lets this counselor listen to, whisper to and barge into
	// other counselors' calls. Default false.
	Supervisor bool `mapstructure:"supervisor"`
	// Skills maps a skill name, such as a language ("ko", "en") or a
	// queue's topic ("loneliness_ko"), to the counselor's level in it,
	// from MinSkillLevel to MaxSkillLevel. Queues that name a skill offer
	// callers to counselors who have it. A counselor without skills (the
	// default) takes every queue, at MinSkillLevel in every skill.
	Skills map[string]int `mapstructure:"skills"`
}

// SkillLevel returns the counselor's level in skill, 0 when the counselor
// lacks it, and MinSkillLevel for every skill when Skills is empty.
func (c Counselor) SkillLevel(skill string) int {
	if len(c.Skills) == 0 {
		return MinSkillLevel
	}
	return c.Skills[skill]
}

// String returns the id and name and hides the password, so that logging a
// Counselor or a Config never prints a secret.
func (c Counselor) String() string {
	return fmt.Sprintf("{ID:%s Name:%s}", c.ID, c.Name)
}

// Supervisors returns the ids of the counselors marked supervisor: true.
func (c *Config) Supervisors() []string {
	var ids []string
	for _, counselor := range c.Counselors {
		if counselor.Supervisor {
			ids = append(ids, counselor.ID)
		}
	}
	return ids
}

// QueueDef is one queue that callers wait in, such as the Korean line or
// the line for people calling about someone else.
type QueueDef struct {
	// Name identifies the queue in IVR queue nodes, records and events:
	// letters, digits, _ and -.
	Name string `mapstructure:"name"`
	// LabelKo and LabelEn are the names the web pages show for the queue
	// in Korean and in English, such as "외로움 상담(한국어)". Empty (the
	// default) shows Name.
	LabelKo string `mapstructure:"label_ko"`
	LabelEn string `mapstructure:"label_en"`
	// Strategy picks the counselor for the next caller: longest_idle (the
	// default), round_robin, fewest_calls, skills or ring_all.
	Strategy string `mapstructure:"strategy"`
	// Skill is the skill a counselor needs to take this queue's callers,
	// or empty (the default) for every counselor.
	Skill string `mapstructure:"skill"`
	// WidenAfter, when positive, first offers a caller only to counselors
	// with the best level of Skill among all configured counselors, and
	// after the caller waited this long to every counselor. 0 (the
	// default) offers to every counselor with Skill from the start.
	WidenAfter time.Duration `mapstructure:"widen_after"`
	// MaxWait is how long a caller waits before the overflow applies, or 0
	// (the default) for no limit. The overflow also applies when no
	// counselor is logged in.
	MaxWait time.Duration `mapstructure:"max_wait"`
	// Overflow is the rule applied to a caller when MaxWait passes or no
	// counselor is logged in.
	Overflow Overflow `mapstructure:"overflow"`
}

// Overflow actions.
const (
	// OverflowKeepWaiting leaves the caller in the queue (the default).
	OverflowKeepWaiting = "keep_waiting"
	// OverflowCallback offers a callback, creates the task and ends the call.
	OverflowCallback = "callback"
	// OverflowTransfer transfers the caller to Overflow.Target.
	OverflowTransfer = "transfer"
)

// Overflow is a queue's overflow rule.
type Overflow struct {
	// Action is keep_waiting, callback or transfer. Empty means
	// keep_waiting.
	Action string `mapstructure:"action"`
	// Target is the transfer target: a sip: or sips: URI, or a number of
	// trunk.allowed_targets dialled through trunk.outbound_uri.
	Target string `mapstructure:"target"`
}

// Callbacks is the section about calling waiting callers back.
type Callbacks struct {
	// Key is the DTMF key a waiting caller presses to be called back
	// instead: one of 0-9, * and #. Default "*", which no menu choice
	// uses.
	Key string `mapstructure:"key"`
	// Attempts is how many times the server dials a caller back before the
	// task fails. Default 3.
	Attempts int `mapstructure:"attempts"`
	// Interval is the pause between two attempts of one task. Default 5m.
	Interval time.Duration `mapstructure:"interval"`
	// AfterAbandonWait is the wait after which a caller who hangs up in
	// the queue gets a callback task, or 0 to never create one. High-risk
	// callers always get one. Default 60s.
	AfterAbandonWait time.Duration `mapstructure:"after_abandon_wait"`
}

// Skill levels of counselors[].skills.
const (
	MinSkillLevel = 1
	MaxSkillLevel = 10
)

// Queue is the section of settings that every queue shares.
type Queue struct {
	// RingTimeout is how long a counselor's phone rings before the next
	// counselor is tried. Default 15s.
	RingTimeout time.Duration `mapstructure:"ring_timeout"`
	// WrapUp is the pause after each call before the counselor gets the
	// next offer, or 0 for none. Default 30s.
	WrapUp time.Duration `mapstructure:"wrap_up"`
	// RetryDelay is how long a counselor who did not take an offer is
	// skipped for that caller once every counselor was tried. Default 5s.
	RetryDelay time.Duration `mapstructure:"retry_delay"`
	// AnnounceInterval is how often a waiting caller hears their place in
	// line and the estimated wait, or 0 for never. Default 60s.
	AnnounceInterval time.Duration `mapstructure:"announce_interval"`
	// MaxMissed is the number of offers in a row a counselor may miss (ring
	// timeout or unreachable phone) before being put on break, or 0 for
	// never. Default 2.
	MaxMissed int `mapstructure:"max_missed"`
	// BusySkip is how long a counselor whose phone answered busy is skipped
	// for every caller, or 0 for no skip. Default 30s.
	BusySkip time.Duration `mapstructure:"busy_skip"`
	// MaxWrapUp caps wrap_up and every counselors[].wrap_up. Default 5m.
	MaxWrapUp time.Duration `mapstructure:"max_wrap_up"`
}

// Records is the call-record storage section.
type Records struct {
	// DataDir is the folder of the records database. Default "./data".
	DataDir string `mapstructure:"data_dir"`
	// File is the database file name inside DataDir. Default "records.db".
	File string `mapstructure:"file"`
	// KeyEnv names the environment variable with the 32-byte records key.
	// Default "HELPLINE_RECORDS_KEY".
	KeyEnv string `mapstructure:"key_env"`
	// KeyFile is a file with the records key, or empty (the default).
	KeyFile string `mapstructure:"key_file"`
	// AllowDemoKey permits the public demo key when no key is set. The
	// example file sets true, and a file that leaves the key out gets false.
	AllowDemoKey bool `mapstructure:"allow_demo_key"`
	// Driver is sqlite (the default) or postgres. Shared mode needs
	// postgres, so that every node's records are in one place.
	Driver string `mapstructure:"driver"`
	// Postgres is the shared database used with driver postgres.
	Postgres Postgres `mapstructure:"postgres"`
	// RetentionDays is how many days the callers' numbers and the notes
	// of a call are kept after it ended; the daily purge anonymizes older
	// calls. 0 (the default) keeps them forever.
	RetentionDays int `mapstructure:"retention_days"`
	// PurgeAt is the local time of day (HH:MM) of the daily purge, used
	// when RetentionDays is above 0. Default "03:30".
	PurgeAt string `mapstructure:"purge_at"`
	// Spool holds call records and events while the store fails.
	Spool RecordsSpool `mapstructure:"spool"`
}

// PurgeClock returns the hour and minute of PurgeAt. Load has checked it.
func (r Records) PurgeClock() (hour, minute int) {
	t, err := time.Parse(purgeAtLayout, r.PurgeAt)
	if err != nil {
		return 0, 0
	}
	return t.Hour(), t.Minute()
}

// purgeAtLayout is the layout of records.purge_at.
const purgeAtLayout = "15:04"

// Log is the logging section.
type Log struct {
	// Level is debug, info, warn or error. Default "info".
	Level string `mapstructure:"level"`
	// Format is auto, json or console. Default "auto": console when stderr
	// is a terminal, JSON otherwise.
	Format string `mapstructure:"format"`
}

// Shutdown is the graceful-stop section.
type Shutdown struct {
	// DrainTimeout is how long calls in progress may continue after
	// SIGTERM before both legs get BYE. Default 30s.
	DrainTimeout time.Duration `mapstructure:"drain_timeout"`
	// RetryAfter is the Retry-After value of the 503 sent to new calls
	// while draining. Whole seconds, at least 1s, default 60s.
	RetryAfter time.Duration `mapstructure:"retry_after"`
}

// DemoPasswordsInUse returns the ids of counselors whose password is the
// published demo password "demo-<id>", in configuration order.
func (c *Config) DemoPasswordsInUse() []string {
	var ids []string
	for _, counselor := range c.Counselors {
		if counselor.Password == demoPasswordPrefix+counselor.ID {
			ids = append(ids, counselor.ID)
		}
	}
	return ids
}

// demoPasswordPrefix starts the demo passwords of the example file.
const demoPasswordPrefix = "demo-"
