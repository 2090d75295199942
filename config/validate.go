package config

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Limits that the validation enforces.
const (
	// minPort and maxPort bound RTP ports: ports below 1024 are privileged.
	minPort = 1024
	maxPort = 65535
	// minRTPPorts is the smallest RTP range: one call has two legs.
	minRTPPorts = 2
	// minRetryAfter is the smallest Retry-After, which carries whole
	// seconds (RFC 3261 section 20.33).
	minRetryAfter = time.Second
	// maxHostNameLength and maxLabelLength are the DNS limits of RFC 1035
	// section 2.3.4: 63-octet labels and 255-octet names, which is 253
	// characters as dotted text.
	maxHostNameLength = 253
	maxLabelLength    = 63
)

// Allowed words of the enumerated keys.
var (
	listenNetworks = []string{"udp", "tcp", "tls"}
	logLevels      = []string{"debug", "info", "warn", "error"}
	logFormats     = []string{"auto", "json", "console"}
	uriSchemes     = []string{"sip", "sips"}
)

// Patterns of names and numbers.
var (
	counselorIDPattern = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	calledNumberRegexp = regexp.MustCompile(`^\+?[0-9]+$`)
	plainNamePattern   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	envNamePattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hostLabelPattern   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
)

// validate checks every section, fills the values that Load derives
// (public_host, rtp.address, passwords from the environment, UsesDemoKey)
// and records the problems and warnings.
func validate(cfg *Config, env environment, options loadOptions, ps, warnings *problems) {
	validateSIP(&cfg.SIP, ps)
	validateSessionTimers(&cfg.SIP, ps, warnings)
	validateSIPLimits(&cfg.SIP, ps)
	validateSIPSecurity(&cfg.SIP, ps, warnings)
	validateRTP(&cfg.RTP, cfg.SIP.PublicHost, ps)
	validateTrunk(&cfg.Trunk, ps, warnings)
	validateCounselors(cfg.Counselors, env, options, ps)
	validateQueue(&cfg.Queue, ps)
	validateQueues(cfg.Queues, ps)
	validateRouting(cfg, ps)
	validateIVR(&cfg.IVR, cfg.QueueNames(), ps, warnings)
	cfg.UsesDemoKey = validateRecords(&cfg.Records, env, ps)
	validateRecordsSpool(&cfg.Records.Spool, ps)
	validateLog(&cfg.Log, ps)
	validateShutdown(&cfg.Shutdown, ps)
	validateCallbacks(&cfg.Callbacks, ps)
	validateOverflows(cfg.Queues, &cfg.Trunk, ps)
	validateStates(cfg, env, ps, warnings)
	validateCluster(cfg, env, ps)
	validateWeb(&cfg.Web, cfg.Counselors, ps)
}

func validateSIP(s *SIP, ps *problems) {
	validateListeners(s.Listen, ps)
	resolvePublicHost(s, ps)
	validateHeaderText(ps, "sip.realm", s.Realm, `"\`)
	validateDigestAlgorithms(s.DigestAlgorithms, ps)
	validateHeaderText(ps, "sip.user_agent", s.UserAgent, "")

	durations := []struct {
		key   string
		value time.Duration
	}{
		{"sip.min_expires", s.MinExpires},
		{"sip.default_expires", s.DefaultExpires},
		{"sip.max_expires", s.MaxExpires},
	}
	for _, d := range durations {
		requirePositive(ps, d.key, d.value)
		requireWholeSeconds(ps, d.key, d.value)
	}
	if !ps.hasKey("sip.min_expires") && !ps.hasKey("sip.default_expires") && s.DefaultExpires < s.MinExpires {
		ps.add("sip.default_expires", s.DefaultExpires, "is below sip.min_expires (%s): use a value from min_expires to max_expires", s.MinExpires)
	}
	if !ps.hasKey("sip.default_expires") && !ps.hasKey("sip.max_expires") && s.DefaultExpires > s.MaxExpires {
		ps.add("sip.default_expires", s.DefaultExpires, "is above sip.max_expires (%s): use a value from min_expires to max_expires", s.MaxExpires)
	}
}

func validateListeners(listeners []Listener, ps *problems) {
	if len(listeners) == 0 {
		ps.add("sip.listen", nil, "must list at least one listener, such as {network: udp, address: 127.0.0.1:5060}")
		return
	}
	seen := make(map[Listener]bool)
	for i, l := range listeners {
		key := joinKey("sip.listen", strconv.Itoa(i))
		if !slices.Contains(listenNetworks, l.Network) {
			ps.add(key+".network", l.Network, "is not supported: use one of %s", strings.Join(listenNetworks, ", "))
		}
		switch {
		case !l.Address.IsValid():
			ps.add(key+".address", nil, "must be set to an IP address and port, such as 127.0.0.1:5060")
		case l.Address.Port() == 0:
			ps.add(key+".address", l.Address.String(), "has port 0, which binds a random port that phones cannot know: use a fixed port such as 5060")
		}
		if seen[l] {
			ps.add(key, l.Network+" "+l.Address.String(), "is listed twice: remove one entry")
		}
		seen[l] = true
	}
}

// resolvePublicHost checks sip.public_host, or fills it from the first
// listener when it is empty.
func resolvePublicHost(s *SIP, ps *problems) {
	if s.PublicHost != "" {
		if !isHost(s.PublicHost) {
			ps.add("sip.public_host", s.PublicHost, "is not a host name or IP address: write one without port or brackets, such as sip.example.org or 192.0.2.10")
		}
		return
	}
	if len(s.Listen) == 0 || !s.Listen[0].Address.IsValid() {
		return
	}
	first := s.Listen[0].Address.Addr()
	if first.IsUnspecified() {
		ps.add("sip.public_host", nil, "must be set because sip.listen.0.address %s is a wildcard address: write the host name or IP address that phones and the trunk reach", first)
		return
	}
	s.PublicHost = first.WithZone("").String()
}

// validateHeaderText checks a value that goes into a SIP header: it must
// not be empty, and must not hold control characters or any of forbidden.
func validateHeaderText(ps *problems, key, value, forbidden string) {
	if value == "" {
		ps.add(key, nil, "must not be empty")
		return
	}
	bad := strings.ContainsFunc(value, func(r rune) bool {
		return unicode.IsControl(r) || strings.ContainsRune(forbidden, r)
	})
	if bad {
		ps.add(key, value, "contains a control character or one of %q: remove it", forbidden)
	}
}

func validateRTP(r *RTP, publicHost string, ps *problems) {
	for _, port := range []struct {
		key   string
		value int
	}{{"rtp.port_min", r.PortMin}, {"rtp.port_max", r.PortMax}} {
		if port.value < minPort || port.value > maxPort {
			ps.add(port.key, port.value, "is out of range: use a port from %d to %d", minPort, maxPort)
		}
	}
	if !ps.hasKey("rtp.port_min") && !ps.hasKey("rtp.port_max") && r.PortMax-r.PortMin+1 < minRTPPorts {
		ps.add("rtp.port_max", r.PortMax, "leaves fewer than %d ports above rtp.port_min %d: raise port_max", minRTPPorts, r.PortMin)
	}
	requireNonNegative(ps, "rtp.media_timeout", r.MediaTimeout)
	validateHoldTimeout(r, ps)
	resolveRTPAddress(r, publicHost, ps)
}

// resolveRTPAddress checks rtp.address, or fills it from sip.public_host
// when it is empty. SDP needs an IP address here, so a public host name
// cannot stand in.
func resolveRTPAddress(r *RTP, publicHost string, ps *problems) {
	if ps.hasKey("rtp.address") {
		return
	}
	if r.Address.IsValid() {
		if r.Address.IsUnspecified() {
			ps.add("rtp.address", r.Address.String(), "is a wildcard address, which SDP cannot advertise: use the IP address that callers and phones reach")
		}
		return
	}
	if ps.hasKey("sip.public_host") || publicHost == "" {
		return
	}
	addr, err := netip.ParseAddr(publicHost)
	if err != nil {
		ps.add("rtp.address", nil, "must be set because sip.public_host %q is a host name and SDP needs an IP address", publicHost)
		return
	}
	r.Address = addr
}

func validateTrunk(t *Trunk, ps, warnings *problems) {
	if len(t.TrustedSources) == 0 {
		ps.add("trunk.trusted_sources", nil, "must list at least one network, or every trunk call gets 403 Forbidden")
	}
	for i, prefix := range t.TrustedSources {
		if prefix.IsValid() && prefix.Bits() == 0 {
			warnings.add(joinKey("trunk.trusted_sources", strconv.Itoa(i)), prefix.String(), "trusts every source address: any host can place calls as the trunk")
		}
	}

	if len(t.Numbers) == 0 {
		ps.add("trunk.numbers", nil, "must list at least one called number, or every call gets 404 Not Found")
	}
	seen := make(map[string]bool)
	for i, number := range t.Numbers {
		key := joinKey("trunk.numbers", strconv.Itoa(i))
		switch {
		case !calledNumberRegexp.MatchString(number):
			ps.add(key, number, "is not a called number: use digits with an optional leading +, such as 120")
		case seen[number]:
			ps.add(key, number, "is listed twice: remove one entry")
		}
		seen[number] = true
	}

	if t.GeneralServiceURI != "" {
		if message, ok := checkSIPURI(t.GeneralServiceURI); !ok {
			ps.add("trunk.general_service_uri", t.GeneralServiceURI, "%s", message)
		}
	}
	if t.OutboundURI != "" {
		if message, ok := checkSIPURI(t.OutboundURI); !ok {
			ps.add("trunk.outbound_uri", t.OutboundURI, "%s", message)
		}
	}
	validateAllowedTargets(ps, t.AllowedTargets)
	validateEmergencyCode(ps, t.EmergencyCode)
}

// emergencyCodePattern is a feature code: * and up to three more keys of
// 0-9 and *. It has no #, because # ends the number typed after it.
var emergencyCodePattern = regexp.MustCompile(`^\*[0-9*]{0,3}$`)

// validateEmergencyCode checks the counselor's emergency feature code.
func validateEmergencyCode(ps *problems, code string) {
	if !emergencyCodePattern.MatchString(code) {
		ps.add("trunk.emergency_code", code, "is not a feature code: use * and up to three more keys of 0-9 and *, such as *9 (no #, which ends the number)")
	}
}

// validateAllowedTargets checks that each transfer target is a dialable
// number listed once.
func validateAllowedTargets(ps *problems, targets []string) {
	seen := make(map[string]bool)
	for i, number := range targets {
		key := joinKey("trunk.allowed_targets", strconv.Itoa(i))
		switch {
		case !calledNumberRegexp.MatchString(number):
			ps.add(key, number, "is not a phone number: use digits with an optional leading +, such as 119")
		case seen[number]:
			ps.add(key, number, "is listed twice: remove one entry")
		}
		seen[number] = true
	}
}

// checkSIPURI returns why text is not a usable sip: or sips: URI.
func checkSIPURI(text string) (string, bool) {
	var uri sipmsg.Uri
	const usage = "use a sip: or sips: URI such as sip:120@192.0.2.20"
	if strings.ContainsFunc(text, unicode.IsSpace) {
		return "contains white space: " + usage, false
	}
	if err := sipmsg.ParseUri(text, &uri); err != nil {
		return "is not a SIP URI (" + err.Error() + "): " + usage, false
	}
	if !slices.Contains(uriSchemes, uri.Scheme) {
		return "is not a SIP URI: " + usage, false
	}
	if uri.Host == "" {
		return "has no host: " + usage, false
	}
	return "", true
}

func validateCounselors(counselors []Counselor, env environment, options loadOptions, ps *problems) {
	if len(counselors) == 0 {
		ps.add("counselors", nil, "must list at least one counselor with an id and a password or password_env")
		return
	}
	seen := make(map[string]int)
	for i := range counselors {
		key := joinKey("counselors", strconv.Itoa(i))
		c := &counselors[i]
		switch first, duplicate := seen[c.ID]; {
		case c.ID == "":
			ps.add(key+".id", nil, "must not be empty: use the SIP user name, ASCII letters and digits")
		case !counselorIDPattern.MatchString(c.ID):
			ps.add(key+".id", c.ID, "is not a valid id: use ASCII letters and digits only")
		case duplicate:
			ps.add(key+".id", c.ID, "is already the id of counselors.%d: ids must be unique", first)
		default:
			seen[c.ID] = i
		}
		resolvePassword(c, key, env, options, ps)
	}
}

// resolvePassword fills a counselor's password from password_env and
// checks that the counselor ends up with one. Messages never show it.
func resolvePassword(c *Counselor, key string, env environment, options loadOptions, ps *problems) {
	if c.PasswordEnv == "" {
		if c.Password == "" {
			ps.add(key+".password", nil, "must not be empty: set password, or password_env to read it from the environment")
		}
		return
	}
	if c.Password != "" {
		ps.add(key+".password_env", c.PasswordEnv, "is set together with password: keep only one of them")
		return
	}
	if !envNamePattern.MatchString(c.PasswordEnv) {
		ps.add(key+".password_env", c.PasswordEnv, "is not an environment variable name: use letters, digits and _")
		return
	}
	password, ok := env.lookup(c.PasswordEnv)
	if !ok && options.passwordsOptional {
		return
	}
	if !ok {
		ps.add(key+".password_env", c.PasswordEnv, "is not set or empty in the environment: export it, or set password")
		return
	}
	c.Password = password
}

func validateQueue(q *Queue, ps *problems) {
	requirePositive(ps, "queue.ring_timeout", q.RingTimeout)
	requireNonNegative(ps, "queue.wrap_up", q.WrapUp)
	requireNonNegative(ps, "queue.retry_delay", q.RetryDelay)
	validateAnnounceInterval(ps, q.AnnounceInterval)
}

// minAnnounceInterval is the shortest queue.announce_interval other than 0,
// so that a typo such as 60ms cannot leave a caller hearing nothing but
// announcements.
const minAnnounceInterval = time.Second

// validateAnnounceInterval accepts 0 (no announcements) or at least
// minAnnounceInterval.
func validateAnnounceInterval(ps *problems, d time.Duration) {
	switch {
	case d < 0:
		ps.add("queue.announce_interval", d, "must not be negative: use 0 to turn announcements off, or a duration such as 60s")
	case d > 0 && d < minAnnounceInterval:
		ps.add("queue.announce_interval", d, "is shorter than 1s: use 0 to turn announcements off, or a duration such as 60s")
	}
}

// validateQueues checks that there is at least one queue and that names
// are plain and unique.
func validateQueues(queues []QueueDef, ps *problems) {
	if len(queues) == 0 {
		ps.add("queues", nil, "must list at least one queue with a name")
		return
	}
	seen := make(map[string]int, len(queues))
	for i, q := range queues {
		key := joinKey("queues", strconv.Itoa(i))
		validatePlainName(ps, key+".name", q.Name)
		validateQueueLabel(ps, key+".label_ko", q.LabelKo)
		validateQueueLabel(ps, key+".label_en", q.LabelEn)
		if first, ok := seen[q.Name]; ok && q.Name != "" {
			ps.add(key+".name", q.Name, "is already the name of queues.%d: names must be unique", first)
			continue
		}
		seen[q.Name] = i
	}
}

// maxQueueLabelLength is the most characters a queue label may have, so
// that it fits a heading of the board.
const maxQueueLabelLength = 40

// validateQueueLabel checks an optional display name: one line of at most
// maxQueueLabelLength characters.
func validateQueueLabel(ps *problems, key, label string) {
	switch {
	case label == "":
	case !utf8.ValidString(label) || strings.IndexFunc(label, unicode.IsControl) >= 0:
		ps.add(key, label, "must be one line of text without control characters")
	case strings.TrimSpace(label) != label:
		ps.add(key, label, "starts or ends with a space: remove it")
	case utf8.RuneCountInString(label) > maxQueueLabelLength:
		ps.add(key, label, "is %d characters long: use at most %d", utf8.RuneCountInString(label), maxQueueLabelLength)
	}
}

// QueueNames returns the names of the configured queues in file order.
func (c *Config) QueueNames() []string {
	names := make([]string, 0, len(c.Queues))
	for _, q := range c.Queues {
		names = append(names, q.Name)
	}
	return names
}

// validateRecords checks the records section and returns whether the demo
// key will be used, as Config.UsesDemoKey describes.
func validateRecords(r *Records, env environment, ps *problems) bool {
	if r.DataDir == "" {
		ps.add("records.data_dir", nil, "must not be empty: set the folder for the records database, such as ./data")
	}
	validateFileName(ps, "records.file", r.File)
	validateRetention(r, ps)

	if r.KeyEnv != "" && !envNamePattern.MatchString(r.KeyEnv) {
		ps.add("records.key_env", r.KeyEnv, "is not an environment variable name: use letters, digits and _")
	}
	_, envKeySet := env.lookup(r.KeyEnv)
	keySet := envKeySet || r.KeyFile != ""
	switch {
	case keySet || r.AllowDemoKey:
	case r.KeyEnv == "":
		ps.add("records.key_file", nil, "must be set because records.key_env is empty and allow_demo_key is false: name a file with the 32-byte records key")
	default:
		ps.add("records.key_env", r.KeyEnv, "is not set or empty in the environment, and records.key_file is empty: export a 32-byte key in base64 (head -c 32 /dev/urandom | base64) or set key_file")
	}
	return r.AllowDemoKey && !keySet
}

// validateRetention checks records.retention_days and records.purge_at.
func validateRetention(r *Records, ps *problems) {
	if r.RetentionDays < 0 {
		ps.add("records.retention_days", r.RetentionDays, "is negative: use 0 to keep records forever, or the number of days to keep them, such as 365")
	}
	if _, err := time.Parse(purgeAtLayout, r.PurgeAt); err != nil || len(r.PurgeAt) != len(purgeAtLayout) {
		ps.add("records.purge_at", r.PurgeAt, "is not a time of day: use HH:MM in local time, such as 03:30")
	}
}

// validateFileName checks that name is a file name without a folder.
func validateFileName(ps *problems, key, name string) {
	switch {
	case name == "":
		ps.add(key, nil, "must not be empty: use a file name such as records.db")
	case name == "." || name == ".." || strings.ContainsAny(name, `/\`):
		ps.add(key, name, "is not a plain file name: remove the folder part, which belongs in records.data_dir")
	}
}

func validateLog(l *Log, ps *problems) {
	if !slices.Contains(logLevels, l.Level) {
		ps.add("log.level", l.Level, "is not a log level: use one of %s", strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, l.Format) {
		ps.add("log.format", l.Format, "is not a log format: use one of %s", strings.Join(logFormats, ", "))
	}
}

func validateShutdown(s *Shutdown, ps *problems) {
	requirePositive(ps, "shutdown.drain_timeout", s.DrainTimeout)
	if s.RetryAfter < minRetryAfter {
		ps.add("shutdown.retry_after", s.RetryAfter, "is too short: use at least %s", minRetryAfter)
		return
	}
	requireWholeSeconds(ps, "shutdown.retry_after", s.RetryAfter)
}

func requirePositive(ps *problems, key string, d time.Duration) {
	if d <= 0 {
		ps.add(key, d, "must be positive: use a duration such as 15s")
	}
}

func requireNonNegative(ps *problems, key string, d time.Duration) {
	if d < 0 {
		ps.add(key, d, "must not be negative: use 0 or a duration such as 15s")
	}
}

// requireWholeSeconds rejects fractions for values that SIP carries in
// seconds, such as Expires and Retry-After.
func requireWholeSeconds(ps *problems, key string, d time.Duration) {
	if d%time.Second != 0 {
		ps.add(key, d, "is not a whole number of seconds, which SIP headers carry: use a value such as %s", d.Round(time.Second))
	}
}

// validatePlainName checks a name made of letters, digits, _ and -.
func validatePlainName(ps *problems, key, name string) {
	switch {
	case name == "":
		ps.add(key, nil, "must not be empty: use letters, digits, _ and -")
	case !plainNamePattern.MatchString(name):
		ps.add(key, name, "is not a plain name: use letters, digits, _ and -")
	}
}

// isHost reports whether text is an IP address or a DNS host name
// (RFC 1123 labels).
func isHost(text string) bool {
	if _, err := netip.ParseAddr(text); err == nil {
		return true
	}
	if len(text) > maxHostNameLength {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(text, "."), ".") {
		if len(label) > maxLabelLength || !hostLabelPattern.MatchString(label) {
			return false
		}
	}
	return true
}

// digestAlgorithms are the digest algorithms the registrar can challenge with.
var digestAlgorithms = []string{"MD5", "SHA-256"}

func validateDigestAlgorithms(algorithms []string, ps *problems) {
	if len(algorithms) == 0 {
		ps.add("sip.digest_algorithms", nil, "must list at least one algorithm: MD5, SHA-256 or both")
		return
	}
	for i, a := range algorithms {
		if !slices.Contains(digestAlgorithms, a) {
			ps.add(joinKey("sip.digest_algorithms", strconv.Itoa(i)), a, "is not a supported digest algorithm: use MD5 or SHA-256")
		}
	}
}
