package sip

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/events"
)

// Binding lifetimes used when RegistrarConfig leaves a field zero.
const (
	defaultMinExpires     = time.Minute
	defaultMaxExpires     = time.Hour
	defaultDefaultExpires = time.Hour
)

const (
	// sipDateLayout is the Date header format of RFC 3261 section 20.17
	// (an RFC 1123 date, always in GMT).
	sipDateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

	// maxLoggedUserLength caps user names taken from rejected requests
	// before they are logged.
	maxLoggedUserLength = 64
)

// RegistrarConfig configures a Registrar. Zero durations take the defaults
// above: 60 s minimum, 3600 s maximum and 3600 s default expiration.
type RegistrarConfig struct {
	// Realm is the digest realm sent in challenges, for example the SIP domain.
	Realm string
	// DigestAlgorithms lists the challenges a 401 carries, in order: "MD5",
	// "SHA-256" or both. Empty means both, MD5 first. Credentials with
	// either algorithm are accepted whatever this lists.
	DigestAlgorithms []string
	// Passwords maps each counselor id (the SIP user of the address-of-record)
	// to its digest password. NewRegistrar copies the map.
	Passwords map[string]string
	// MinExpires is the shortest binding lifetime accepted. Shorter
	// requests get 423 Interval Too Brief.
	MinExpires time.Duration
	// MaxExpires is the longest binding lifetime granted. Longer requests
	// are granted MaxExpires.
	MaxExpires time.Duration
	// DefaultExpires is granted to a contact that names no expiration.
	DefaultExpires time.Duration
	// Logger receives registration and authentication events. The zero
	// value discards them.
	Logger zerolog.Logger
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// OnChange is called when a user's first binding appears (true) or its
	// last binding goes (false), by removal or expiry. Calls are made without
	// registrar locks held and in the order the changes happened, so
	// OnChange may call Lookup. A change can be delivered by a goroutine
	// other than the one that caused it.
	OnChange func(user string, registered bool)

	// Shared, when set, turns on shared mode: the registrar writes its
	// bindings to this store, and Lookup finds the bindings of other nodes
	// in it when this node holds none for the user.
	Shared BindingStore
	// Node is this node's ID, stored in each binding as Binding.Node.
	// Required in shared mode.
	Node string
	// NodeAddresses maps a transport ("udp", "tcp") to the host:port where
	// the other nodes reach this node's SIP listener of that transport. In
	// shared mode a REGISTER without Path gets a Path to this address, so
	// that the other nodes send through this node. Required in shared mode.
	NodeAddresses map[string]string
	// SharedTimeout bounds each call to Shared. Zero means 2 s.
	SharedTimeout time.Duration

	// AuthLockoutAttempts is the number of failed authentications in a
	// row after which a counselor id gets 403 from that source address.
	// Zero means 5.
	AuthLockoutAttempts int
	// AuthLockoutDuration is how long that lock lasts, and the longest
	// gap between two failures counted in a row. Zero means 1 minute.
	AuthLockoutDuration time.Duration
	// Events receives a sip_auth_locked event when a lock begins. Nil
	// drops it.
	Events events.Publisher
	// Security rejects REGISTER requests from outside the office that did
	// not arrive over TLS, when it requires that.
	Security SecurityPolicy
}

// Registrar is the SIP registrar of RFC 3261 section 10.3 for counselor
// softphones. It authenticates REGISTER requests with HTTP digest (RFC 7616,
// RFC 8760 for SHA-256 in SIP), stores bindings in memory and expires them.
// All methods are safe for concurrent use.
type Registrar struct {
	passwords map[string]string
	policy    expiresPolicy
	log       zerolog.Logger
	now       func() time.Time
	onChange  func(user string, registered bool)
	auth      *digestAuth
	guard     *failureGuard
	events    events.Publisher
	security  SecurityPolicy
	// insecureLog limits the warnings about phones outside the office
	// networks without TLS to one per source per sourceLogInterval.
	insecureLog sourceLogGates

	// shared is the store of every node's bindings, nil in embedded mode.
	shared        BindingStore
	node          string
	nodeAddresses map[string]string
	sharedTimeout time.Duration
	// publishMu orders the writes of bindings to shared, so that a later
	// state of a user's bindings is never overwritten by an earlier one.
	publishMu sync.Mutex

	// wake signals Run that bindings changed and the next expiry may be earlier.
	wake chan struct{}

	// mu guards bindings, announced, pending and delivering.
	mu sync.Mutex
	// bindings maps user to contactKey to binding.
	bindings map[string]map[string]Binding
	// announced contains the users last reported as registered to OnChange.
	announced map[string]bool
	// pending contains the OnChange calls not yet made, oldest first.
	pending []registrationChange
	// delivering is true while a goroutine makes the pending OnChange calls.
	delivering bool
}

type registrationChange struct {
	user       string
	registered bool
}

// NewRegistrar validates cfg, fills in default lifetimes and returns a
// registrar with no bindings. Call Run to expire bindings.
func NewRegistrar(cfg RegistrarConfig) (*Registrar, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	return &Registrar{
		passwords:     maps.Clone(cfg.Passwords),
		policy:        expiresPolicy{min: cfg.MinExpires, max: cfg.MaxExpires, fallback: cfg.DefaultExpires},
		log:           cfg.Logger,
		now:           cfg.Now,
		onChange:      cfg.OnChange,
		auth:          newDigestAuth(cfg.Realm, cfg.DigestAlgorithms, cfg.Now),
		guard:         newFailureGuard(cfg.AuthLockoutAttempts, cfg.AuthLockoutDuration),
		events:        cfg.Events,
		security:      cfg.Security,
		shared:        cfg.Shared,
		node:          cfg.Node,
		nodeAddresses: normalizeNodeAddresses(cfg.NodeAddresses),
		sharedTimeout: cfg.SharedTimeout,
		wake:          make(chan struct{}, 1),
		bindings:      make(map[string]map[string]Binding),
		announced:     make(map[string]bool),
	}, nil
}

func (cfg RegistrarConfig) withDefaults() RegistrarConfig {
	if cfg.MinExpires == 0 {
		cfg.MinExpires = defaultMinExpires
	}
	if cfg.MaxExpires == 0 {
		cfg.MaxExpires = defaultMaxExpires
	}
	if cfg.DefaultExpires == 0 {
		cfg.DefaultExpires = defaultDefaultExpires
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.DigestAlgorithms) == 0 {
		cfg.DigestAlgorithms = []string{algorithmMD5, algorithmSHA256}
	}
	if cfg.SharedTimeout == 0 {
		cfg.SharedTimeout = defaultSharedTimeout
	}
	if cfg.AuthLockoutAttempts == 0 {
		cfg.AuthLockoutAttempts = defaultLockoutAttempts
	}
	if cfg.AuthLockoutDuration == 0 {
		cfg.AuthLockoutDuration = defaultLockoutDuration
	}
	if cfg.Events == nil {
		cfg.Events = events.Nop{}
	}
	return cfg
}

func (cfg RegistrarConfig) validate() error {
	if err := validateRealm(cfg.Realm); err != nil {
		return err
	}

	if len(cfg.Passwords) == 0 {
		return fmt.Errorf("%w: Passwords is empty, so no counselor could register", ErrInvalidRegistrarConfig)
	}
	for user, password := range cfg.Passwords {
		if user == "" || password == "" {
			return fmt.Errorf("%w: Passwords has an empty user or an empty password for user %q", ErrInvalidRegistrarConfig, user)
		}
	}

	for _, algorithm := range cfg.DigestAlgorithms {
		if algorithm != algorithmMD5 && algorithm != algorithmSHA256 {
			return fmt.Errorf("%w: digest algorithm %q is not supported: use MD5 or SHA-256", ErrInvalidRegistrarConfig, algorithm)
		}
	}

	if cfg.AuthLockoutAttempts < 0 || cfg.AuthLockoutDuration < 0 {
		return fmt.Errorf("%w: AuthLockoutAttempts %d and AuthLockoutDuration %s must not be negative",
			ErrInvalidRegistrarConfig, cfg.AuthLockoutAttempts, cfg.AuthLockoutDuration)
	}

	if cfg.MinExpires < time.Second {
		return fmt.Errorf("%w: MinExpires %s is below 1s", ErrInvalidRegistrarConfig, cfg.MinExpires)
	}
	if cfg.DefaultExpires < cfg.MinExpires || cfg.DefaultExpires > cfg.MaxExpires {
		return fmt.Errorf("%w: DefaultExpires %s must lie between MinExpires %s and MaxExpires %s",
			ErrInvalidRegistrarConfig, cfg.DefaultExpires, cfg.MinExpires, cfg.MaxExpires)
	}
	return cfg.validateShared()
}

// validateRealm rejects realms that cannot be sent as a quoted string:
// empty ones, and ones with quotes, backslashes or non-printable ASCII.
func validateRealm(realm string) error {
	if realm == "" {
		return fmt.Errorf("%w: Realm is empty", ErrInvalidRegistrarConfig)
	}
	for _, c := range realm {
		if c < ' ' || c > '~' || c == '"' || c == '\\' {
			return fmt.Errorf("%w: Realm %q must be printable ASCII without quotes or backslashes", ErrInvalidRegistrarConfig, realm)
		}
	}
	return nil
}

// HandleRegister processes one REGISTER request and sends the final response
// on tx. Register it with sipgo's Server.OnRegister.
func (r *Registrar) HandleRegister(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if req == nil || tx == nil {
		r.log.Error().Msg("register handler called without request or transaction")
		return
	}

	res := r.processRegister(req)
	if err := tx.Respond(res); err != nil {
		r.log.Warn().Err(err).Str("source", req.Source()).Int("status", res.StatusCode).
			Msg("send register response failed")
	}

	r.deliverChanges()
}

// registerOrigin is the source address and transport of a REGISTER, with
// the Call-ID and CSeq that order refreshes of its bindings.
type registerOrigin struct {
	source    netip.AddrPort
	transport string
	callID    string
	cseq      uint32
	// requestPath is the Path of the REGISTER, top first.
	requestPath []string
	// path is the Path stored with the bindings: requestPath, or this
	// node's own Path in shared mode, then with direct set.
	path   []string
	direct bool
}

// processRegister runs the steps of RFC 3261 section 10.3 and returns the
// response to send.
func (r *Registrar) processRegister(req *sipmsg.Request) *sipmsg.Response {
	now := r.now()

	origin, aor, err := parseRegisterRequest(req)
	if err != nil {
		r.log.Warn().Err(err).Str("source", req.Source()).Msg("register rejected")
		return r.rejectRegister(req, err)
	}
	log := r.log.With().Str("source", origin.source.String()).Str("transport", origin.transport).Logger()

	if err := r.security.checkTransport(origin.source.Addr(), origin.transport); err != nil {
		if suppressed, ok := r.insecureLog.allow(origin.source.Addr().String(), now); ok {
			log.Warn().Str("user", loggableUser(aor)).Int("suppressed", suppressed).Dur("log_interval", sourceLogInterval).
				Msg("register rejected: the phone is outside the office networks and did not use TLS, set its account to transport=tls")
		}
		return r.rejectRegister(req, err)
	}
	if until, locked := r.guard.lockedUntil(origin.source.Addr(), aor, now); locked {
		// The lock was logged once when it began; repeats are debug only.
		log.Debug().Str("user", loggableUser(aor)).Time("until", until).
			Msg("register rejected: this counselor is locked at this address after repeated authentication failures")
		return r.rejectRegister(req, ErrTooManyAuthFailures)
	}

	user, err := r.authenticate(req, aor)
	if err != nil {
		r.noteAuthFailure(log, aor, origin, req.Method, err, now)
		return r.rejectRegister(req, err)
	}
	r.guard.reset(origin.source.Addr(), aor)
	if err := checkRegisterIdentity(req, aor); err != nil {
		log.Warn().Err(err).Str("user", user).Msg("register rejected")
		return r.rejectRegister(req, err)
	}

	update, err := parseRegisterUpdate(req, r.policy)
	if err != nil {
		log.Warn().Err(err).Str("user", user).Msg("register rejected")
		return r.rejectRegister(req, err)
	}
	if err := r.setPath(req, &origin); err != nil {
		log.Warn().Err(err).Str("user", user).Msg("register rejected")
		return r.rejectRegister(req, err)
	}

	result, err := r.applyUpdate(user, update, origin, now)
	if err != nil {
		log.Warn().Err(err).Str("user", user).Str("call_id", origin.callID).Msg("register rejected")
		return r.rejectRegister(req, err)
	}

	logUpdateResult(r.log, result, now)
	r.publish(user)
	return r.acceptRegister(req, origin, result.current, now)
}

// setPath stores in origin the Path the new bindings get: the Path
// headers of the REGISTER, or in shared mode without them, this node's
// own Path (see ownPath).
func (r *Registrar) setPath(req *sipmsg.Request, origin *registerOrigin) error {
	path, err := parsePath(req)
	if err != nil {
		return err
	}
	origin.requestPath = path
	origin.path = path
	if len(path) > 0 || r.shared == nil {
		return nil
	}

	own, ok := r.ownPath(*origin)
	if !ok {
		r.log.Warn().Str("transport", origin.transport).
			Msg("no node address for the REGISTER's transport: other nodes cannot reach this phone, set the node addresses")
		return nil
	}
	origin.path = own
	origin.direct = true
	return nil
}

// parseRegisterRequest checks the headers every REGISTER needs and returns
// the request origin and the user of the To header (the address-of-record).
func parseRegisterRequest(req *sipmsg.Request) (registerOrigin, string, error) {
	to, from, callID, cseq := req.To(), req.From(), req.CallID(), req.CSeq()
	if to == nil || from == nil || callID == nil || cseq == nil {
		return registerOrigin{}, "", fmt.Errorf("missing To, From, Call-ID or CSeq header: %w", ErrMalformedRegister)
	}
	if cseq.MethodName != sipmsg.REGISTER {
		return registerOrigin{}, "", fmt.Errorf("CSeq method %q, expected REGISTER: %w", cseq.MethodName, ErrMalformedRegister)
	}

	source, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return registerOrigin{}, "", fmt.Errorf("parse request source %q: %v: %w", req.Source(), err, ErrMalformedRegister)
	}

	origin := registerOrigin{
		source:    netip.AddrPortFrom(source.Addr().Unmap(), source.Port()),
		transport: strings.ToLower(req.Transport()),
		callID:    callID.Value(),
		cseq:      cseq.SeqNo,
	}
	return origin, to.Address.User, nil
}

// checkRegisterIdentity rejects a REGISTER whose From user differs from its
// To user: a counselor registers only their own address-of-record, never
// on behalf of another (the third-party registration of RFC 3261 section
// 10.2). User parts compare exactly, so case and %-escapes count.
func checkRegisterIdentity(req *sipmsg.Request, aor string) error {
	if from := req.From(); from.Address.User != aor {
		return fmt.Errorf("user %q in From, %q in To: %w", loggableUser(from.Address.User), loggableUser(aor), ErrThirdPartyRegister)
	}
	return nil
}

// authenticate checks the digest credentials of req (RFC 3261 section 22.4)
// and returns the authenticated counselor id. The digest username must be
// the To user: a counselor registers only their own address-of-record.
func (r *Registrar) authenticate(req *sipmsg.Request, aor string) (string, error) {
	credentials, err := r.auth.parseAuthorization(req)
	if err != nil {
		return "", err
	}

	if credentials.Username != aor {
		return "", ErrUsernameMismatch
	}

	password, ok := r.passwords[credentials.Username]
	if !ok {
		return "", ErrUnknownCounselor
	}

	if err := r.auth.checkParameters(credentials, req.Recipient); err != nil {
		return "", err
	}

	if err := checkResponse(credentials, req.Method.String(), password); err != nil {
		return "", err
	}

	// The response is right, so an expired or reused nonce only needs a new
	// challenge, marked stale.
	if err := r.auth.checkNonce(credentials.Nonce); err != nil {
		return "", err
	}
	if err := r.auth.acceptNonceCount(credentials.Nonce, credentials.Nc); err != nil {
		return "", err
	}
	return credentials.Username, nil
}

// noteAuthFailure logs a rejected authentication and counts it against the
// source when it could be a guess: a wrong password, an unknown counselor or
// a username for another address-of-record. Neither the password nor the
// digest response is logged.
func (r *Registrar) noteAuthFailure(log zerolog.Logger, aor string, origin registerOrigin, method sipmsg.RequestMethod, err error, now time.Time) {
	user := loggableUser(aor)

	switch {
	case errors.Is(err, ErrNoCredentials):
		log.Debug().Str("user", user).Msg("register challenged")
		return
	case errors.Is(err, ErrStaleNonce):
		log.Debug().Str("user", user).Msg("register challenged again, nonce is stale")
		return
	case errors.Is(err, ErrNonceReused):
		log.Warn().Err(err).Str("user", user).Msg("register challenged again, nonce count reused")
		return
	case !errors.Is(err, ErrWrongPassword) && !errors.Is(err, ErrUnknownCounselor) && !errors.Is(err, ErrUsernameMismatch):
		log.Warn().Err(err).Str("user", user).Msg("register credentials rejected")
		return
	}

	failures, until := r.guard.recordFailure(origin.source.Addr(), aor, now)
	log.Warn().Err(err).Str("user", user).Int("failures", failures).Msg("register authentication failed")
	if !until.IsZero() {
		r.noteLockout(log, user, origin, method, failures, until)
	}
}

// noteLockout logs the start of a lock of user at the request's source,
// once, and publishes it as a sip_auth_locked event.
func (r *Registrar) noteLockout(log zerolog.Logger, user string, origin registerOrigin, method sipmsg.RequestMethod, failures int, until time.Time) {
	source := origin.source.Addr().String()
	log.Warn().Str("user", user).Str("source_address", source).Str("method", string(method)).
		Int("failures", failures).Time("until", until).
		Msg("counselor locked at this address after repeated authentication failures: requests get 403 until the lock ends; " +
			"check the SIP password set in the phone of this counselor id, because a phone retries a wrong password with each new nonce " +
			"and reaches the limit within a second; an admin can end the lock early with DELETE /api/v1/sip-lockouts")
	r.events.Publish(events.Event{
		Type: events.SIPAuthLocked,
		Data: map[string]string{
			"user":   user,
			"source": source,
			"method": string(method),
			"until":  until.UTC().Format(time.RFC3339),
		},
	})
}

// rejectRegister builds the error response for err. A 401 response carries
// fresh challenges, marked stale when the client proved its password with an
// expired or reused nonce. A 423 response carries Min-Expires.
func (r *Registrar) rejectRegister(req *sipmsg.Request, err error) *sipmsg.Response {
	code, reason := registerStatus(err)
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)

	switch code {
	case sipmsg.StatusUnauthorized:
		stale := errors.Is(err, ErrStaleNonce) || errors.Is(err, ErrNonceReused)
		for _, challenge := range r.auth.challenges(stale) {
			res.AppendHeader(sipmsg.NewHeader("WWW-Authenticate", challenge))
		}
	case sipmsg.StatusIntervalToBrief:
		res.AppendHeader(sipmsg.NewHeader("Min-Expires", strconv.FormatInt(ceilSeconds(r.policy.min), 10)))
	case sipmsg.StatusForbidden:
		if errors.Is(err, ErrTLSRequired) {
			res.AppendHeader(sipmsg.NewHeader("Warning", tlsRequiredWarning))
		}
	}
	return res
}

// acceptRegister builds the 200 OK that lists every current binding of the
// user with its remaining lifetime, and the registrar's Date (RFC 3261
// section 10.3, step 8). When the REGISTER carried Path and its Supported
// lists path, the 200 echoes that Path (RFC 3327 section 5.3), so the phone
// learns the route for its own requests. A phone that does not support
// Path gets none, and a Path this node added itself is never echoed.
func (r *Registrar) acceptRegister(req *sipmsg.Request, origin registerOrigin, current []Binding, now time.Time) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(req, sipmsg.StatusOK, "OK", nil)
	if len(origin.requestPath) > 0 && supportsPath(req) {
		res.AppendHeader(pathHeader(origin.requestPath))
	}
	for _, binding := range current {
		contact := &sipmsg.ContactHeader{Address: *binding.Contact.Clone(), Params: sipmsg.NewParams()}
		contact.Params.Add("expires", strconv.FormatInt(ceilSeconds(binding.Expires.Sub(now)), 10))
		res.AppendHeader(contact)
	}
	res.AppendHeader(sipmsg.NewHeader("Date", now.UTC().Format(sipDateLayout)))
	return res
}

// ceilSeconds rounds d up to whole seconds, so a binding with 0.5 s left is
// listed with expires=1 and not 0, which would read as removed.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

func loggableUser(user string) string {
	if len(user) > maxLoggedUserLength {
		return user[:maxLoggedUserLength]
	}
	return user
}
