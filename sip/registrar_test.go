package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/rs/zerolog"
)

const (
	testRealm    = "helpline.test"
	testUser     = "counselor7"
	testPassword = "correct horse battery"
	otherUser    = "counselor8"

	// testWait bounds every wait for a response or an event.
	testWait = 10 * time.Second
)

var testStart = time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)

// fakeClock is a clock that moves only when the test advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lockedBuffer collects log output written from sipgo goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// registrarEnv is a registrar served by sipgo on loopback UDP and TCP.
type registrarEnv struct {
	registrar *Registrar
	clock     *fakeClock
	logs      *lockedBuffer
	changes   chan registrationChange
	udpAddr   netip.AddrPort
	tcpAddr   netip.AddrPort
}

// testClient sends requests from its own loopback UDP socket, or over TCP.
type testClient struct {
	udp     *sipgo.Client
	tcp     *sipgo.Client
	udpAddr netip.AddrPort
}

func discardSlog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func quietUA(t *testing.T, options ...sipgo.UserAgentOption) *sipgo.UserAgent {
	t.Helper()
	ua, err := sipgo.NewUA(append([]sipgo.UserAgentOption{
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(discardSlog())),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(discardSlog())),
	}, options...)...)
	if err != nil {
		t.Fatalf("create user agent: %v", err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	return ua
}

// serveInBackground runs serve and waits for it to return at cleanup, after
// closer stopped it.
func serveInBackground(t *testing.T, serve func() error, closer io.Closer) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = serve()
	}()
	t.Cleanup(func() {
		_ = closer.Close()
		select {
		case <-done:
		case <-time.After(testWait):
			t.Errorf("sipgo serve loop did not stop within %s", testWait)
		}
	})
}

func startRegistrar(t *testing.T, adjust func(*RegistrarConfig)) *registrarEnv {
	t.Helper()

	env := &registrarEnv{
		clock:   &fakeClock{now: testStart},
		logs:    &lockedBuffer{},
		changes: make(chan registrationChange, 64),
	}
	cfg := RegistrarConfig{
		Realm:          testRealm,
		Passwords:      map[string]string{testUser: testPassword, otherUser: "another secret"},
		MinExpires:     60 * time.Second,
		MaxExpires:     3600 * time.Second,
		DefaultExpires: 1800 * time.Second,
		Logger:         zerolog.New(env.logs).Level(zerolog.DebugLevel),
		Now:            env.clock.Now,
		OnChange: func(user string, registered bool) {
			env.changes <- registrationChange{user: user, registered: registered}
		},
	}
	if adjust != nil {
		adjust(&cfg)
	}

	registrar, err := NewRegistrar(cfg)
	if err != nil {
		t.Fatalf("NewRegistrar: %v", err)
	}
	env.registrar = registrar

	ua := quietUA(t)
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(discardSlog()))
	if err != nil {
		t.Fatalf("create sipgo server: %v", err)
	}
	srv.OnRegister(registrar.HandleRegister)

	packetConn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	serveInBackground(t, func() error { return srv.ServeUDP(packetConn) }, packetConn)
	env.udpAddr = netip.MustParseAddrPort(packetConn.LocalAddr().String())

	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen tcp: %v", err)
	}
	serveInBackground(t, func() error { return srv.ServeTCP(listener) }, listener)
	env.tcpAddr = netip.MustParseAddrPort(listener.Addr().String())

	return env
}

// newTestClient starts a sipgo client whose UA listens on host:0 (UDP), so
// its UDP requests come from that socket.
func newTestClient(t *testing.T, host string) *testClient {
	t.Helper()

	ua := quietUA(t)
	packetConn, err := net.ListenPacket("udp4", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen client udp on %s: %v", host, err)
	}
	serveInBackground(t, func() error { return ua.TransportLayer().ServeUDP(packetConn) }, packetConn)
	waitForUDPListener(t, ua)
	addr := packetConn.LocalAddr().String()

	udp, err := sipgo.NewClient(ua,
		sipgo.WithClientLogger(discardSlog()),
		sipgo.WithClientAddr(addr),
		sipgo.WithClientConnectionAddr(addr),
	)
	if err != nil {
		t.Fatalf("create udp client: %v", err)
	}
	tcp, err := sipgo.NewClient(ua, sipgo.WithClientLogger(discardSlog()), sipgo.WithClientHostname(host))
	if err != nil {
		t.Fatalf("create tcp client: %v", err)
	}
	return &testClient{udp: udp, tcp: tcp, udpAddr: netip.MustParseAddrPort(addr)}
}

// waitForUDPListener waits until the UA's transport layer holds the listening
// socket, so that requests reuse it instead of binding the same address again.
func waitForUDPListener(t *testing.T, ua *sipgo.UserAgent) {
	t.Helper()
	const pollInterval = time.Millisecond
	deadline := time.Now().Add(testWait)
	for ua.TransportLayer().Pool("udp").Size() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("client UDP listener not ready within %s", testWait)
		}
		time.Sleep(pollInterval)
	}
}

// registerSpec describes one REGISTER request. Empty fields are left out,
// except that contact defaults to the client's own UDP address.
type registerSpec struct {
	toUser        string
	contact       string
	noContact     bool
	expires       string
	callID        string
	cseq          uint32
	tcp           bool
	authorization string
	// path holds the values of Path headers, one header each.
	path      []string
	supported string
}

func (e *registrarEnv) newRegister(t *testing.T, client *testClient, spec registerSpec) *sipmsg.Request {
	t.Helper()

	server := e.udpAddr
	if spec.tcp {
		server = e.tcpAddr
	}
	recipient := sipmsg.Uri{Scheme: "sip", Host: server.Addr().String(), Port: int(server.Port())}
	req := sipmsg.NewRequest(sipmsg.REGISTER, recipient)
	if spec.tcp {
		req.SetTransport("TCP")
	}

	aor := sipmsg.Uri{Scheme: "sip", User: spec.toUser, Host: testRealm}
	from := &sipmsg.FromHeader{Address: aor, Params: sipmsg.NewParams()}
	from.Params.Add("tag", "fromtag1")
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: aor, Params: sipmsg.NewParams()})

	callID := sipmsg.CallIDHeader(spec.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: spec.cseq, MethodName: sipmsg.REGISTER})

	if !spec.noContact {
		req.AppendHeader(parseContact(t, spec.contactValue(client)))
	}
	if spec.expires != "" {
		req.AppendHeader(sipmsg.NewHeader("Expires", spec.expires))
	}
	if spec.authorization != "" {
		req.AppendHeader(sipmsg.NewHeader("Authorization", spec.authorization))
	}
	for _, value := range spec.path {
		req.AppendHeader(sipmsg.NewHeader("Path", value))
	}
	if spec.supported != "" {
		req.AppendHeader(sipmsg.NewHeader("Supported", spec.supported))
	}
	return req
}

func (s registerSpec) contactValue(client *testClient) string {
	if s.contact != "" {
		return s.contact
	}
	return fmt.Sprintf("<sip:%s@%s>", s.toUser, client.udpAddr)
}

func parseContact(t *testing.T, value string) *sipmsg.ContactHeader {
	t.Helper()
	contact := &sipmsg.ContactHeader{}
	if value == "*" {
		contact.Address = sipmsg.Uri{Wildcard: true, Host: "*"}
		return contact
	}
	if _, err := sipmsg.ParseAddressValue(value, &contact.Address, &contact.Params); err != nil {
		t.Fatalf("parse contact %q: %v", value, err)
	}
	return contact
}

func (e *registrarEnv) send(t *testing.T, client *testClient, spec registerSpec) *sipmsg.Response {
	t.Helper()

	req := e.newRegister(t, client, spec)
	sender := client.udp
	if spec.tcp {
		sender = client.tcp
	}

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	res, err := sender.Do(ctx, req)
	if err != nil {
		t.Fatalf("send REGISTER: %v", err)
	}
	return res
}

// register sends spec, computes credentials for the 401 challenge of
// algorithm with username and password, resends and returns the final
// response. The second request reuses the Call-ID with the next CSeq.
func (e *registrarEnv) register(t *testing.T, client *testClient, spec registerSpec, algorithm, username, password string) *sipmsg.Response {
	t.Helper()

	challenge := e.send(t, client, spec)
	if challenge.StatusCode != sipmsg.StatusUnauthorized {
		t.Fatalf("first REGISTER status = %d, want 401", challenge.StatusCode)
	}

	spec.cseq++
	spec.authorization = answerChallenge(t, challenge, algorithm, e.newRegister(t, client, spec), username, password)
	return e.send(t, client, spec)
}

// answerChallenge computes the Authorization value for the challenge with
// the given algorithm, using icholy/digest as a client would.
func answerChallenge(t *testing.T, challenge *sipmsg.Response, algorithm string, req *sipmsg.Request, username, password string) string {
	t.Helper()

	for _, header := range challenge.GetHeaders("WWW-Authenticate") {
		parsed, err := digest.ParseChallenge(header.Value())
		if err != nil {
			t.Fatalf("parse challenge %q: %v", header.Value(), err)
		}
		if parsed.Algorithm != algorithm {
			continue
		}
		credentials, err := digest.Digest(parsed, digest.Options{
			Method:   req.Method.String(),
			URI:      req.Recipient.Addr(),
			Username: username,
			Password: password,
		})
		if err != nil {
			t.Fatalf("compute digest: %v", err)
		}
		return credentials.String()
	}
	t.Fatalf("no %s challenge in %v", algorithm, challenge.GetHeaders("WWW-Authenticate"))
	return ""
}

func (e *registrarEnv) waitChange(t *testing.T, want registrationChange) {
	t.Helper()
	select {
	case got := <-e.changes:
		if got != want {
			t.Fatalf("OnChange = %+v, want %+v", got, want)
		}
	case <-time.After(testWait):
		t.Fatalf("no OnChange %+v within %s", want, testWait)
	}
}

func responseContacts(t *testing.T, res *sipmsg.Response) map[string]string {
	t.Helper()
	contacts := make(map[string]string)
	for _, header := range res.GetHeaders("Contact") {
		contact, ok := header.(*sipmsg.ContactHeader)
		if !ok {
			t.Fatalf("Contact header %q not parsed", header.Value())
		}
		expires, _ := contact.Params.Get("expires")
		contacts[contact.Address.String()] = expires
	}
	return contacts
}

func TestRegisterDigestAlgorithms(t *testing.T) {
	tests := []struct {
		name      string
		algorithm string
	}{
		{name: "md5", algorithm: "MD5"},
		{name: "sha-256", algorithm: "SHA-256"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := startRegistrar(t, nil)
			client := newTestClient(t, "127.0.0.1")
			spec := registerSpec{toUser: testUser, expires: "600", callID: "call-" + tc.name, cseq: 1}

			res := env.register(t, client, spec, tc.algorithm, testUser, testPassword)

			if res.StatusCode != sipmsg.StatusOK {
				t.Fatalf("status = %d, want 200", res.StatusCode)
			}
			contact := fmt.Sprintf("sip:%s@%s", testUser, client.udpAddr)
			if got := responseContacts(t, res); got[contact] != "600" || len(got) != 1 {
				t.Errorf("200 OK contacts = %v, want %s with expires 600", got, contact)
			}
			date := res.GetHeader("Date")
			if date == nil {
				t.Fatal("200 OK has no Date header")
			}
			if parsed, err := time.Parse(sipDateLayout, date.Value()); err != nil || !parsed.Equal(testStart) {
				t.Errorf("Date = %q, want %s", date.Value(), testStart.Format(sipDateLayout))
			}

			binding, ok := env.registrar.Lookup(testUser)
			if !ok {
				t.Fatal("Lookup found no binding after 200 OK")
			}
			if binding.Transport != "udp" {
				t.Errorf("Transport = %q, want udp", binding.Transport)
			}
			if binding.Destination() != client.udpAddr.String() {
				t.Errorf("Destination = %s, want %s", binding.Destination(), client.udpAddr)
			}
			if want := testStart.Add(600 * time.Second); !binding.Expires.Equal(want) {
				t.Errorf("Expires = %s, want %s", binding.Expires, want)
			}
			env.waitChange(t, registrationChange{user: testUser, registered: true})
		})
	}
}

// sipgo's DoDigestAuth uses the first challenge, which is MD5.
func TestRegisterSipgoDigestAuth(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, callID: "call-sipgo", cseq: 1}

	req := env.newRegister(t, client, spec)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	challenge, err := client.udp.Do(ctx, req)
	if err != nil {
		t.Fatalf("send REGISTER: %v", err)
	}
	res, err := client.udp.DoDigestAuth(ctx, req, challenge, sipgo.DigestAuth{Username: testUser, Password: testPassword})
	if err != nil {
		t.Fatalf("send authenticated REGISTER: %v", err)
	}

	if res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	if !strings.Contains(req.GetHeader("Authorization").Value(), "algorithm=MD5") {
		t.Errorf("sipgo answered %q, want the MD5 challenge", req.GetHeader("Authorization").Value())
	}
	if _, ok := env.registrar.Lookup(testUser); !ok {
		t.Error("Lookup found no binding after 200 OK")
	}
}

func TestRegisterChallenge(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")

	res := env.send(t, client, registerSpec{toUser: testUser, callID: "call-challenge", cseq: 1})

	if res.StatusCode != sipmsg.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", res.StatusCode)
	}
	headers := res.GetHeaders("WWW-Authenticate")
	if len(headers) != 2 {
		t.Fatalf("got %d WWW-Authenticate headers, want 2", len(headers))
	}
	for i, want := range []string{"MD5", "SHA-256"} {
		challenge, err := digest.ParseChallenge(headers[i].Value())
		if err != nil {
			t.Fatalf("parse challenge %d: %v", i, err)
		}
		if challenge.Algorithm != want {
			t.Errorf("challenge %d algorithm = %q, want %q", i, challenge.Algorithm, want)
		}
		if !challenge.SupportsQOP("auth") || challenge.Realm != testRealm || challenge.Opaque == "" || challenge.Stale {
			t.Errorf("challenge %d = %+v, want qop auth, realm %q, an opaque and no stale", i, challenge, testRealm)
		}
	}
	if _, ok := env.registrar.Lookup(testUser); ok {
		t.Error("Lookup found a binding after 401")
	}
}

func TestRegisterRejectsCredentials(t *testing.T) {
	tests := []struct {
		name string
		// toUser is the To user. Username and password compute the credentials.
		toUser, username, password string
		// rewrite changes the computed Authorization value.
		rewrite    func(string) string
		wantStatus int
		// wantReason is the error the registrar must log.
		wantReason error
	}{
		{name: "wrong password", toUser: testUser, username: testUser, password: "guess", wantStatus: sipmsg.StatusUnauthorized, wantReason: ErrWrongPassword},
		{name: "username differs from To user", toUser: testUser, username: otherUser, password: "another secret", wantStatus: sipmsg.StatusForbidden, wantReason: ErrUsernameMismatch},
		// An unknown user gets 401 first, like anyone without credentials,
		// and 403 once the credentials name the unknown user.
		{name: "unknown counselor", toUser: "intruder", username: "intruder", password: "x", wantStatus: sipmsg.StatusForbidden, wantReason: ErrUnknownCounselor},
		{
			name: "other realm", toUser: testUser, username: testUser, password: testPassword,
			rewrite:    func(v string) string { return strings.Replace(v, `realm="`+testRealm+`"`, `realm="elsewhere"`, 1) },
			wantStatus: sipmsg.StatusUnauthorized,
			wantReason: ErrRealmMismatch,
		},
		{
			name: "digest uri differs", toUser: testUser, username: testUser, password: testPassword,
			rewrite:    func(v string) string { return strings.Replace(v, `uri="sip:127.0.0.1`, `uri="sip:127.0.0.9`, 1) },
			wantStatus: sipmsg.StatusUnauthorized,
			wantReason: ErrDigestURIMismatch,
		},
		{
			name: "forged nonce", toUser: testUser, username: testUser, password: testPassword,
			rewrite:    func(v string) string { return strings.Replace(v, `nonce="`, `nonce="A`, 1) },
			wantStatus: sipmsg.StatusUnauthorized,
			wantReason: ErrInvalidNonce,
		},
		{
			name: "algorithm not offered", toUser: testUser, username: testUser, password: testPassword,
			rewrite:    func(v string) string { return strings.Replace(v, "algorithm=MD5", "algorithm=SHA-512", 1) },
			wantStatus: sipmsg.StatusUnauthorized,
			wantReason: ErrUnsupportedDigest,
		},
		{
			name: "malformed header", toUser: testUser, username: testUser, password: testPassword,
			rewrite:    func(v string) string { return strings.Replace(v, `username="`, `username=`, 1) },
			wantStatus: sipmsg.StatusBadRequest,
			wantReason: ErrMalformedCredentials,
		},
		{
			name: "response removed", toUser: testUser, username: testUser, password: testPassword,
			rewrite:    func(v string) string { return v[:strings.Index(v, ", response=")] },
			wantStatus: sipmsg.StatusBadRequest,
			wantReason: ErrMalformedCredentials,
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := startRegistrar(t, nil)
			client := newTestClient(t, "127.0.0.1")
			spec := registerSpec{toUser: tc.toUser, callID: "call-reject", cseq: 1}

			challenge := env.send(t, client, spec)
			if challenge.StatusCode != sipmsg.StatusUnauthorized {
				t.Fatalf("first status = %d, want 401", challenge.StatusCode)
			}
			spec.cseq++
			authorization := answerChallenge(t, challenge, "MD5", env.newRegister(t, client, spec), tc.username, tc.password)
			if tc.rewrite != nil {
				authorization = tc.rewrite(authorization)
			}
			spec.authorization = authorization
			res := env.send(t, client, spec)

			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == sipmsg.StatusUnauthorized && len(res.GetHeaders("WWW-Authenticate")) != 2 {
				t.Errorf("401 carries %d challenges, want 2", len(res.GetHeaders("WWW-Authenticate")))
			}
			if bindings := env.registrar.Bindings(); len(bindings) != 0 {
				t.Errorf("Bindings = %v, want none", bindings)
			}
			if logs := env.logs.String(); !strings.Contains(logs, tc.wantReason.Error()) {
				t.Errorf("logs lack the reason %q: %s", tc.wantReason, logs)
			}

			// The registrar keeps serving after the rejection.
			spec.cseq++
			spec.authorization = ""
			if again := env.send(t, client, spec); again.StatusCode != sipmsg.StatusUnauthorized {
				t.Errorf("next REGISTER status = %d, want 401", again.StatusCode)
			}
		})
	}
}

func TestRegisterLogsNoSecrets(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, callID: "call-logs", cseq: 1}

	challenge := env.send(t, client, spec)
	spec.cseq++
	spec.authorization = answerChallenge(t, challenge, "SHA-256", env.newRegister(t, client, spec), testUser, "wrong-password-value")
	if res := env.send(t, client, spec); res.StatusCode != sipmsg.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", res.StatusCode)
	}

	credentials, err := digest.ParseCredentials(spec.authorization)
	if err != nil {
		t.Fatalf("parse own credentials: %v", err)
	}
	logs := env.logs.String()
	if !strings.Contains(logs, `"message":"register authentication failed"`) {
		t.Fatalf("no authentication failure logged in %s", logs)
	}
	for _, want := range []string{`"level":"warn"`, `"user":"` + testUser + `"`, `"source":"` + client.udpAddr.String() + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s: %s", want, logs)
		}
	}
	for _, secret := range []string{"wrong-password-value", testPassword, credentials.Response} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain secret %q", secret)
		}
	}
}

func TestRegisterStaleNonce(t *testing.T) {
	tests := []struct {
		name       string
		password   string
		wantStale  bool
		wantStatus int
	}{
		{name: "correct response", password: testPassword, wantStale: true, wantStatus: sipmsg.StatusUnauthorized},
		{name: "wrong password", password: "guess", wantStale: false, wantStatus: sipmsg.StatusUnauthorized},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := startRegistrar(t, nil)
			client := newTestClient(t, "127.0.0.1")
			spec := registerSpec{toUser: testUser, callID: "call-stale", cseq: 1}

			challenge := env.send(t, client, spec)
			env.clock.Advance(nonceLifetime + time.Second)
			spec.cseq++
			spec.authorization = answerChallenge(t, challenge, "MD5", env.newRegister(t, client, spec), testUser, tc.password)
			res := env.send(t, client, spec)

			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.wantStatus)
			}
			fresh, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
			if err != nil {
				t.Fatalf("parse new challenge: %v", err)
			}
			if fresh.Stale != tc.wantStale {
				t.Errorf("stale = %v, want %v", fresh.Stale, tc.wantStale)
			}
			if _, ok := env.registrar.Lookup(testUser); ok {
				t.Error("Lookup found a binding after a stale nonce")
			}

			if !tc.wantStale {
				return
			}
			spec.cseq++
			spec.authorization = answerChallenge(t, res, "MD5", env.newRegister(t, client, spec), testUser, testPassword)
			if retry := env.send(t, client, spec); retry.StatusCode != sipmsg.StatusOK {
				t.Errorf("retry with the new nonce: status = %d, want 200", retry.StatusCode)
			}
		})
	}
}

func TestRegisterReplayedCredentials(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, callID: "call-replay", cseq: 1}

	challenge := env.send(t, client, spec)
	spec.cseq++
	spec.authorization = answerChallenge(t, challenge, "SHA-256", env.newRegister(t, client, spec), testUser, testPassword)
	if res := env.send(t, client, spec); res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("first use: status = %d, want 200", res.StatusCode)
	}

	// The digest does not cover the Contact, so a replay could move the
	// binding elsewhere if the nonce count were not checked.
	replay := spec
	replay.callID = "call-attacker"
	replay.contact = "<sip:" + testUser + "@127.0.0.1:5999>"
	res := env.send(t, client, replay)

	if res.StatusCode != sipmsg.StatusUnauthorized {
		t.Fatalf("replay: status = %d, want 401", res.StatusCode)
	}
	fresh, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatalf("parse new challenge: %v", err)
	}
	if !fresh.Stale {
		t.Error("replay challenge is not marked stale")
	}
	if bindings := env.registrar.Bindings(); len(bindings) != 1 || bindings[0].Contact.Port == 5999 {
		t.Errorf("Bindings = %v, want only the first contact", bindings)
	}
}

func TestRegisterRemovesBinding(t *testing.T) {
	tests := []struct {
		name string
		// removal changes the registered spec into the removing one.
		removal func(registerSpec) registerSpec
	}{
		{name: "expires header zero", removal: func(s registerSpec) registerSpec { s.expires = "0"; return s }},
		{name: "contact expires zero", removal: func(s registerSpec) registerSpec {
			s.contact = fmt.Sprintf("<sip:%s@%s>;expires=0", testUser, "127.0.0.1:5999")
			s.expires = ""
			return s
		}},
		{name: "wildcard contact", removal: func(s registerSpec) registerSpec { s.contact = "*"; s.expires = "0"; return s }},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := startRegistrar(t, nil)
			client := newTestClient(t, "127.0.0.1")
			spec := registerSpec{toUser: testUser, contact: "<sip:" + testUser + "@127.0.0.1:5999>", expires: "600", callID: "call-remove", cseq: 1}
			if res := env.register(t, client, spec, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
				t.Fatalf("register status = %d, want 200", res.StatusCode)
			}
			env.waitChange(t, registrationChange{user: testUser, registered: true})

			remove := tc.removal(spec)
			remove.cseq = 10
			res := env.register(t, client, remove, "SHA-256", testUser, testPassword)

			if res.StatusCode != sipmsg.StatusOK {
				t.Fatalf("removal status = %d, want 200", res.StatusCode)
			}
			if contacts := responseContacts(t, res); len(contacts) != 0 {
				t.Errorf("200 OK lists %v, want no contacts", contacts)
			}
			if _, ok := env.registrar.Lookup(testUser); ok {
				t.Error("Lookup found a binding after removal")
			}
			env.waitChange(t, registrationChange{user: testUser, registered: false})
		})
	}
}

func TestRegisterExpiresPolicy(t *testing.T) {
	tests := []struct {
		name        string
		expires     string
		contact     string
		wantStatus  int
		wantExpires string
	}{
		{name: "below minimum", expires: "30", wantStatus: sipmsg.StatusIntervalToBrief},
		{name: "above maximum", expires: "86400", wantStatus: sipmsg.StatusOK, wantExpires: "3600"},
		{name: "beyond 32 bits", expires: "99999999999999999999999", wantStatus: sipmsg.StatusOK, wantExpires: "3600"},
		{name: "default when absent", wantStatus: sipmsg.StatusOK, wantExpires: "1800"},
		{name: "contact parameter wins", expires: "30", contact: "<sip:" + testUser + "@127.0.0.1:5999>;expires=120", wantStatus: sipmsg.StatusOK, wantExpires: "120"},
		{name: "contact parameter below minimum", expires: "600", contact: "<sip:" + testUser + "@127.0.0.1:5999>;expires=5", wantStatus: sipmsg.StatusIntervalToBrief},
		{name: "malformed expires header", expires: "soon", wantStatus: sipmsg.StatusBadRequest},
		{name: "negative expires header", expires: "-1", wantStatus: sipmsg.StatusBadRequest},
		{name: "malformed contact expires", contact: "<sip:" + testUser + "@127.0.0.1:5999>;expires=1h", wantStatus: sipmsg.StatusBadRequest},
		{name: "wildcard without expires zero", expires: "600", contact: "*", wantStatus: sipmsg.StatusBadRequest},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := startRegistrar(t, nil)
			client := newTestClient(t, "127.0.0.1")
			spec := registerSpec{toUser: testUser, contact: tc.contact, expires: tc.expires, callID: "call-policy", cseq: 1}

			res := env.register(t, client, spec, "MD5", testUser, testPassword)

			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == sipmsg.StatusIntervalToBrief {
				if minExpires := res.GetHeader("Min-Expires"); minExpires == nil || minExpires.Value() != "60" {
					t.Errorf("Min-Expires = %v, want 60", minExpires)
				}
			}
			if tc.wantStatus != sipmsg.StatusOK {
				if bindings := env.registrar.Bindings(); len(bindings) != 0 {
					t.Errorf("Bindings = %v, want none", bindings)
				}
				return
			}
			contacts := responseContacts(t, res)
			if len(contacts) != 1 {
				t.Fatalf("200 OK lists %v, want one contact", contacts)
			}
			for contact, expires := range contacts {
				if expires != tc.wantExpires {
					t.Errorf("contact %s expires = %s, want %s", contact, expires, tc.wantExpires)
				}
			}
		})
	}
}

func TestRegisterRefreshKeepsOneBinding(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, expires: "600", callID: "call-refresh", cseq: 1}
	if res := env.register(t, client, spec, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("register status = %d, want 200", res.StatusCode)
	}
	env.waitChange(t, registrationChange{user: testUser, registered: true})
	first, _ := env.registrar.Lookup(testUser)

	env.clock.Advance(5 * time.Minute)
	spec.cseq = 5
	spec.expires = "900"
	if res := env.register(t, client, spec, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("refresh status = %d, want 200", res.StatusCode)
	}

	bindings := env.registrar.Bindings()
	if len(bindings) != 1 {
		t.Fatalf("Bindings = %v, want one", bindings)
	}
	refreshed := bindings[0]
	if want := testStart.Add(5*time.Minute + 900*time.Second); !refreshed.Expires.Equal(want) {
		t.Errorf("Expires = %s, want %s", refreshed.Expires, want)
	}
	if !refreshed.UpdatedAt.After(first.UpdatedAt) {
		t.Errorf("UpdatedAt = %s, want later than %s", refreshed.UpdatedAt, first.UpdatedAt)
	}
	if refreshed.CSeq != 6 || refreshed.Contact.String() != first.Contact.String() {
		t.Errorf("refreshed binding = %+v, want CSeq 6 and contact %s", refreshed, first.Contact.String())
	}

	// A refresh reports no change, so the next change seen is the removal.
	spec.cseq = 10
	spec.expires = "0"
	env.register(t, client, spec, "MD5", testUser, testPassword)
	env.waitChange(t, registrationChange{user: testUser, registered: false})
}

func TestRegisterOutOfOrder(t *testing.T) {
	tests := []struct {
		name    string
		callID  string
		cseq    uint32
		wantOK  bool
		expires string
	}{
		{name: "same call-id lower cseq", callID: "call-order", cseq: 1, expires: "0"},
		{name: "same call-id same cseq", callID: "call-order", cseq: 4, expires: "0"},
		{name: "other call-id lower cseq", callID: "call-new-boot", cseq: 1, expires: "0", wantOK: true},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := startRegistrar(t, nil)
			client := newTestClient(t, "127.0.0.1")
			spec := registerSpec{toUser: testUser, expires: "600", callID: "call-order", cseq: 3}
			if res := env.register(t, client, spec, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
				t.Fatalf("register status = %d, want 200", res.StatusCode)
			}

			// The challenge round trip adds one to cseq.
			late := registerSpec{toUser: testUser, expires: tc.expires, callID: tc.callID, cseq: tc.cseq - 1}
			res := env.register(t, client, late, "MD5", testUser, testPassword)

			_, found := env.registrar.Lookup(testUser)
			if tc.wantOK {
				if res.StatusCode != sipmsg.StatusOK || found {
					t.Errorf("status = %d, binding kept = %v; want 200 and removed", res.StatusCode, found)
				}
				return
			}
			if res.StatusCode != sipmsg.StatusInternalServerError {
				t.Errorf("status = %d, want 500", res.StatusCode)
			}
			if !found {
				t.Error("out-of-order REGISTER removed the binding")
			}
		})
	}
}

func TestRegisterContactBehindNAT(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	// The Contact names a private address. Nothing is ever sent to it, because
	// the registrar only stores it and responds to the request's source.
	spec := registerSpec{toUser: testUser, contact: "<sip:" + testUser + "@192.0.2.10:5060>", callID: "call-nat", cseq: 1}

	if res := env.register(t, client, spec, "SHA-256", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}

	binding, ok := env.registrar.Lookup(testUser)
	if !ok {
		t.Fatal("Lookup found no binding")
	}
	if binding.Destination() != client.udpAddr.String() {
		t.Errorf("Destination = %s, want the request source %s", binding.Destination(), client.udpAddr)
	}
	requestURI, destination, transport := binding.Target()
	if requestURI.String() != "sip:"+testUser+"@192.0.2.10:5060" || destination != client.udpAddr.String() || transport != "udp" {
		t.Errorf("Target = %s, %s, %s; want the Contact URI, %s and udp", requestURI.String(), destination, transport, client.udpAddr)
	}
}

func TestRegisterOverTCP(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, contact: "<sip:" + testUser + "@127.0.0.1:5999;transport=tcp>", callID: "call-tcp", cseq: 1, tcp: true}

	res := env.register(t, client, spec, "MD5", testUser, testPassword)

	if res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	binding, ok := env.registrar.Lookup(testUser)
	if !ok {
		t.Fatal("Lookup found no binding")
	}
	if binding.Transport != "tcp" {
		t.Errorf("Transport = %q, want tcp", binding.Transport)
	}
	// sipgo fills the Via sent-by with the local address of the connection.
	via := res.Via()
	if want := net.JoinHostPort(via.Host, strconv.Itoa(via.Port)); binding.Destination() != want {
		t.Errorf("Destination = %s, want the connection source %s", binding.Destination(), want)
	}
}

func TestRegisterQueryListsBindings(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	contacts := []string{"<sip:" + testUser + "@127.0.0.1:5998>", "<sip:" + testUser + "@127.0.0.1:5999>"}
	for i, contact := range contacts {
		spec := registerSpec{toUser: testUser, contact: contact, expires: "600", callID: "call-query", cseq: uint32(10 * (i + 1))}
		if res := env.register(t, client, spec, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
			t.Fatalf("register %s: status = %d, want 200", contact, res.StatusCode)
		}
		env.clock.Advance(10 * time.Second)
	}

	// The bindings were made at 0 s and 10 s for 600 s; the query runs at 110 s.
	env.clock.Advance(90 * time.Second)
	query := registerSpec{toUser: testUser, noContact: true, callID: "call-query", cseq: 30}
	res := env.register(t, client, query, "MD5", testUser, testPassword)

	if res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("query status = %d, want 200", res.StatusCode)
	}
	want := map[string]string{
		"sip:" + testUser + "@127.0.0.1:5998": "490",
		"sip:" + testUser + "@127.0.0.1:5999": "500",
	}
	if got := responseContacts(t, res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("query lists %v, want %v", got, want)
	}
	if latest, _ := env.registrar.Lookup(testUser); latest.Contact.Port != 5999 {
		t.Errorf("Lookup = %s, want the most recently refreshed contact on port 5999", latest.Contact.String())
	}
}

func TestRegisterFailureGuard(t *testing.T) {
	env := startRegistrar(t, nil)
	guessing := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, callID: "call-guess", cseq: 1}

	for attempt := 1; attempt <= defaultLockoutAttempts; attempt++ {
		spec.cseq += 2
		if res := env.register(t, guessing, spec, "MD5", testUser, fmt.Sprintf("guess-%d", attempt)); res.StatusCode != sipmsg.StatusUnauthorized {
			t.Fatalf("guess %d: status = %d, want 401", attempt, res.StatusCode)
		}
	}

	spec.cseq += 2
	if res := env.send(t, guessing, spec); res.StatusCode != sipmsg.StatusForbidden {
		t.Fatalf("REGISTER after %d failures: status = %d, want 403", defaultLockoutAttempts, res.StatusCode)
	}

	// The counselor id is not locked: a phone at another address registers.
	phone := newTestClient(t, "127.0.0.2")
	other := registerSpec{toUser: testUser, callID: "call-phone", cseq: 1}
	if res := env.register(t, phone, other, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("REGISTER from another source: status = %d, want 200", res.StatusCode)
	}

	env.clock.Advance(defaultLockoutDuration)
	spec.cseq += 2
	if res := env.register(t, guessing, spec, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
		t.Errorf("REGISTER after the window: status = %d, want 200", res.StatusCode)
	}
}

func TestRegistrarSweepExpiresBindings(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, expires: "120", callID: "call-sweep", cseq: 1}
	if res := env.register(t, client, spec, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("register status = %d, want 200", res.StatusCode)
	}
	env.waitChange(t, registrationChange{user: testUser, registered: true})

	env.registrar.sweep(testStart.Add(119 * time.Second))
	if _, ok := env.registrar.Lookup(testUser); !ok {
		t.Fatal("sweep removed a binding before it expired")
	}

	env.clock.Advance(120 * time.Second)
	if _, ok := env.registrar.Lookup(testUser); ok {
		t.Error("Lookup returned an expired binding")
	}
	env.registrar.sweep(env.clock.Now())
	if bindings := env.registrar.Bindings(); len(bindings) != 0 {
		t.Errorf("Bindings after sweep = %v, want none", bindings)
	}
	env.waitChange(t, registrationChange{user: testUser, registered: false})
	if !strings.Contains(env.logs.String(), `"message":"binding expired"`) {
		t.Error("expiry not logged")
	}
}

func TestRegistrarRunExpiresBindings(t *testing.T) {
	env := startRegistrar(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		env.registrar.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})

	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, expires: "300", callID: "call-run", cseq: 1}
	if res := env.register(t, client, spec, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("register status = %d, want 200", res.StatusCode)
	}
	env.waitChange(t, registrationChange{user: testUser, registered: true})

	// Run timed its timer by the fake clock. Moving the clock past the
	// expiry and waking Run makes the timer due at once.
	env.clock.Advance(301 * time.Second)
	env.registrar.wakeSweeper()
	env.waitChange(t, registrationChange{user: testUser, registered: false})

	if bindings := env.registrar.Bindings(); len(bindings) != 0 {
		t.Errorf("Bindings = %v, want none", bindings)
	}
}

func TestNewRegistrarConfig(t *testing.T) {
	valid := func() RegistrarConfig {
		return RegistrarConfig{Realm: testRealm, Passwords: map[string]string{testUser: testPassword}}
	}
	tests := []struct {
		name   string
		adjust func(*RegistrarConfig)
	}{
		{name: "empty realm", adjust: func(c *RegistrarConfig) { c.Realm = "" }},
		{name: "quote in realm", adjust: func(c *RegistrarConfig) { c.Realm = `help"line` }},
		{name: "no passwords", adjust: func(c *RegistrarConfig) { c.Passwords = nil }},
		{name: "empty password", adjust: func(c *RegistrarConfig) { c.Passwords = map[string]string{testUser: ""} }},
		{name: "empty user", adjust: func(c *RegistrarConfig) { c.Passwords = map[string]string{"": "x"} }},
		{name: "minimum below one second", adjust: func(c *RegistrarConfig) { c.MinExpires = time.Millisecond }},
		{name: "default above maximum", adjust: func(c *RegistrarConfig) { c.DefaultExpires = 2 * time.Hour }},
		{name: "default below minimum", adjust: func(c *RegistrarConfig) { c.MinExpires = 10 * time.Minute; c.DefaultExpires = time.Minute }},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.adjust(&cfg)
			if _, err := NewRegistrar(cfg); !errors.Is(err, ErrInvalidRegistrarConfig) {
				t.Errorf("NewRegistrar error = %v, want ErrInvalidRegistrarConfig", err)
			}
		})
	}

	t.Run("defaults", func(t *testing.T) {
		registrar, err := NewRegistrar(valid())
		if err != nil {
			t.Fatalf("NewRegistrar: %v", err)
		}
		want := expiresPolicy{min: defaultMinExpires, max: defaultMaxExpires, fallback: defaultDefaultExpires}
		if registrar.policy != want {
			t.Errorf("policy = %+v, want %+v", registrar.policy, want)
		}
	})
}

func TestRegisterStatusTable(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{ErrMalformedRegister, sipmsg.StatusBadRequest},
		{ErrMalformedCredentials, sipmsg.StatusBadRequest},
		{ErrInvalidExpires, sipmsg.StatusBadRequest},
		{ErrInvalidWildcardContact, sipmsg.StatusBadRequest},
		{ErrNoCredentials, sipmsg.StatusUnauthorized},
		{ErrRealmMismatch, sipmsg.StatusUnauthorized},
		{ErrDigestURIMismatch, sipmsg.StatusUnauthorized},
		{ErrUnsupportedDigest, sipmsg.StatusUnauthorized},
		{ErrInvalidNonce, sipmsg.StatusUnauthorized},
		{ErrStaleNonce, sipmsg.StatusUnauthorized},
		{ErrNonceReused, sipmsg.StatusUnauthorized},
		{ErrWrongPassword, sipmsg.StatusUnauthorized},
		{ErrUsernameMismatch, sipmsg.StatusForbidden},
		{ErrThirdPartyRegister, sipmsg.StatusForbidden},
		{ErrUnknownCounselor, sipmsg.StatusForbidden},
		{ErrTooManyAuthFailures, sipmsg.StatusForbidden},
		{ErrTLSRequired, sipmsg.StatusForbidden},
		{ErrExpiresTooBrief, sipmsg.StatusIntervalToBrief},
		{ErrRegisterOutOfOrder, sipmsg.StatusInternalServerError},
		{errors.New("anything else"), sipmsg.StatusInternalServerError},
	}

	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			wrapped := fmt.Errorf("handle REGISTER: %w", tc.err)
			if code, _ := registerStatus(wrapped); code != tc.want {
				t.Errorf("registerStatus(%v) = %d, want %d", wrapped, code, tc.want)
			}
		})
	}
}

// recordingTx is a server transaction that keeps the responses sent on it.
type recordingTx struct {
	mu        sync.Mutex
	responses []*sipmsg.Response
	done      chan struct{}
}

func newRecordingTx() *recordingTx { return &recordingTx{done: make(chan struct{})} }

func (tx *recordingTx) Terminate()                            {}
func (tx *recordingTx) OnTerminate(sipmsg.FnTxTerminate) bool { return true }
func (tx *recordingTx) Done() <-chan struct{}                 { return tx.done }
func (tx *recordingTx) Err() error                            { return nil }
func (tx *recordingTx) Acks() <-chan *sipmsg.Request          { return nil }
func (tx *recordingTx) OnCancel(sipmsg.FnTxCancel) bool       { return true }
func (tx *recordingTx) Respond(res *sipmsg.Response) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.responses = append(tx.responses, res)
	return nil
}

// loadSeeds returns the contents of every file in dir, for fuzz corpora.
func loadSeeds(f *testing.F, dir string) [][]byte {
	f.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatalf("read seed corpus: %v", err)
	}
	var seeds [][]byte
	for _, entry := range entries {
		data, err := os.ReadFile(filepath.Join(dir, entry.Name()))
		if err != nil {
			f.Fatalf("read seed %s: %v", entry.Name(), err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// FuzzHandleRegister feeds arbitrary messages to the registrar. Whatever
// arrives, it sends exactly one response with a status from its table and
// never creates a binding, because no input can carry a nonce signed by this
// process.
func FuzzHandleRegister(f *testing.F) {
	for _, seed := range loadSeeds(f, filepath.Join("testdata", "registrar", "register")) {
		f.Add(seed)
	}

	allowed := map[int]bool{400: true, 401: true, 403: true, 423: true, 500: true}
	registrar, err := NewRegistrar(RegistrarConfig{
		Realm:     testRealm,
		Passwords: map[string]string{testUser: testPassword},
		Logger:    zerolog.Nop(),
	})
	if err != nil {
		f.Fatalf("NewRegistrar: %v", err)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sipmsg.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sipmsg.Request)
		if !ok {
			return
		}
		req.SetSource("127.0.0.1:5062")
		req.SetTransport("UDP")

		tx := newRecordingTx()
		registrar.HandleRegister(req, tx)

		if len(tx.responses) != 1 {
			t.Fatalf("sent %d responses, want 1", len(tx.responses))
		}
		if code := tx.responses[0].StatusCode; !allowed[code] {
			t.Errorf("status = %d, want one of %v", code, allowed)
		}
		if bindings := registrar.Bindings(); len(bindings) != 0 {
			t.Errorf("unauthenticated input created bindings %v", bindings)
		}
	})
}
