package sip

import (
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func newTestDigestAuth(clock *fakeClock) *digestAuth {
	return newDigestAuth(testRealm, []string{algorithmMD5, algorithmSHA256}, clock.Now)
}

func TestCheckNonce(t *testing.T) {
	clock := &fakeClock{now: testStart}
	auth := newTestDigestAuth(clock)
	otherProcess := newTestDigestAuth(clock)

	flipLastByte := func(nonce string) string {
		raw, err := base64.RawURLEncoding.DecodeString(nonce)
		if err != nil {
			t.Fatalf("decode own nonce: %v", err)
		}
		raw[len(raw)-1] ^= 0xff
		return base64.RawURLEncoding.EncodeToString(raw)
	}

	tests := []struct {
		name    string
		nonce   func() string
		advance time.Duration
		want    error
	}{
		{name: "fresh", nonce: auth.issueNonce, want: nil},
		{name: "just within lifetime", nonce: auth.issueNonce, advance: nonceLifetime, want: nil},
		{name: "older than lifetime", nonce: auth.issueNonce, advance: nonceLifetime + time.Second, want: ErrStaleNonce},
		{name: "issued by another process", nonce: otherProcess.issueNonce, want: ErrInvalidNonce},
		{name: "tampered tag", nonce: func() string { return flipLastByte(auth.issueNonce()) }, want: ErrInvalidNonce},
		{name: "not base64", nonce: func() string { return "not a nonce!" }, want: ErrInvalidNonce},
		{name: "too short", nonce: func() string { return "AAAA" }, want: ErrInvalidNonce},
		{name: "empty", nonce: func() string { return "" }, want: ErrInvalidNonce},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock.mu.Lock()
			clock.now = testStart
			clock.mu.Unlock()

			nonce := tc.nonce()
			clock.Advance(tc.advance)
			err := auth.checkNonce(nonce)

			if tc.want == nil && err != nil {
				t.Errorf("checkNonce = %v, want nil", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("checkNonce = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAcceptNonceCount(t *testing.T) {
	clock := &fakeClock{now: testStart}
	auth := newTestDigestAuth(clock)
	nonce := auth.issueNonce()

	steps := []struct {
		name  string
		count int
		want  error
	}{
		{name: "first use", count: 1},
		{name: "next count", count: 2},
		{name: "skipped counts", count: 7},
		{name: "same count", count: 7, want: ErrNonceReused},
		{name: "lower count", count: 3, want: ErrNonceReused},
	}
	for _, step := range steps {
		err := auth.acceptNonceCount(nonce, step.count)
		if step.want == nil && err != nil {
			t.Errorf("%s: acceptNonceCount = %v, want nil", step.name, err)
		}
		if step.want != nil && !errors.Is(err, step.want) {
			t.Errorf("%s: acceptNonceCount = %v, want %v", step.name, err, step.want)
		}
	}

	if err := auth.acceptNonceCount("forged", 1); !errors.Is(err, ErrInvalidNonce) {
		t.Errorf("forged nonce: acceptNonceCount = %v, want ErrInvalidNonce", err)
	}

	clock.Advance(nonceLifetime + time.Second)
	if err := auth.acceptNonceCount(auth.issueNonce(), 1); err != nil {
		t.Fatalf("new nonce: acceptNonceCount = %v, want nil", err)
	}
	auth.mu.Lock()
	_, kept := auth.acceptedNonces[nonce]
	auth.mu.Unlock()
	if kept {
		t.Error("a stale nonce is still stored")
	}
}

func TestNoncesDiffer(t *testing.T) {
	auth := newTestDigestAuth(&fakeClock{now: testStart})
	if first, second := auth.issueNonce(), auth.issueNonce(); first == second {
		t.Errorf("two nonces issued at the same instant are equal: %s", first)
	}
}

func TestChallengesStale(t *testing.T) {
	auth := newTestDigestAuth(&fakeClock{now: testStart})

	for _, stale := range []bool{false, true} {
		values := auth.challenges(stale)
		if len(values) != 2 {
			t.Fatalf("got %d challenges, want 2", len(values))
		}
		var nonces []string
		for i, want := range []string{algorithmMD5, algorithmSHA256} {
			challenge, err := digest.ParseChallenge(values[i])
			if err != nil {
				t.Fatalf("parse challenge %q: %v", values[i], err)
			}
			if challenge.Algorithm != want || challenge.Stale != stale || challenge.Opaque != auth.opaque {
				t.Errorf("challenge %d = %+v, want algorithm %s, stale %v and the opaque value", i, challenge, want, stale)
			}
			nonces = append(nonces, challenge.Nonce)
		}
		if nonces[0] != nonces[1] {
			t.Errorf("challenges carry different nonces %v", nonces)
		}
	}
}

func TestCheckDigestURI(t *testing.T) {
	requestURI := sipmsg.Uri{Scheme: "sip", Host: "Registrar.Example", Port: 5060}

	tests := []struct {
		name      string
		digestURI string
		wantErr   bool
	}{
		{name: "same", digestURI: "sip:registrar.example:5060"},
		{name: "with parameters", digestURI: "sip:registrar.example:5060;transport=udp"},
		{name: "other host", digestURI: "sip:other.example:5060", wantErr: true},
		{name: "other port", digestURI: "sip:registrar.example:5070", wantErr: true},
		{name: "no port", digestURI: "sip:registrar.example", wantErr: true},
		{name: "sips scheme", digestURI: "sips:registrar.example:5060", wantErr: true},
		{name: "not a uri", digestURI: "::::", wantErr: true},
		{name: "empty", digestURI: "", wantErr: true},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDigestURI(tc.digestURI, requestURI)
			if tc.wantErr && !errors.Is(err, ErrDigestURIMismatch) {
				t.Errorf("checkDigestURI = %v, want ErrDigestURIMismatch", err)
			}
			if !tc.wantErr && err != nil {
				t.Errorf("checkDigestURI = %v, want nil", err)
			}
		})
	}
}

func TestCheckResponse(t *testing.T) {
	const uri = "sip:registrar.example"

	tests := []struct {
		name      string
		algorithm string
		password  string
		want      error
	}{
		{name: "md5", algorithm: algorithmMD5, password: testPassword},
		{name: "sha-256", algorithm: algorithmSHA256, password: testPassword},
		{name: "lowercase algorithm", algorithm: "sha-256", password: testPassword},
		{name: "md5 wrong password", algorithm: algorithmMD5, password: "guess", want: ErrWrongPassword},
		{name: "sha-256 wrong password", algorithm: algorithmSHA256, password: "guess", want: ErrWrongPassword},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			challenge := &digest.Challenge{Realm: testRealm, Nonce: "bm9uY2U", Opaque: "0a", Algorithm: tc.algorithm, QOP: []string{qopAuth}}
			credentials, err := digest.Digest(challenge, digest.Options{
				Method: "REGISTER", URI: uri, Username: testUser, Password: tc.password, Cnonce: "c1", Count: 3,
			})
			if err != nil {
				t.Fatalf("compute client digest: %v", err)
			}

			err = checkResponse(credentials, "REGISTER", testPassword)
			if tc.want == nil && err != nil {
				t.Errorf("checkResponse = %v, want nil", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("checkResponse = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckParameters(t *testing.T) {
	clock := &fakeClock{now: testStart}
	auth := newTestDigestAuth(clock)
	requestURI := sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5060}

	valid := func() *digest.Credentials {
		return &digest.Credentials{
			Username: testUser, Realm: testRealm, Nonce: auth.issueNonce(), URI: "sip:127.0.0.1:5060",
			Response: "00", Algorithm: algorithmSHA256, Cnonce: "c1", Opaque: auth.opaque, QOP: qopAuth, Nc: 1,
		}
	}

	tests := []struct {
		name   string
		adjust func(*digest.Credentials)
		want   error
	}{
		{name: "valid", adjust: func(*digest.Credentials) {}},
		{name: "no algorithm means md5", adjust: func(c *digest.Credentials) { c.Algorithm = "" }},
		{name: "sess algorithm", adjust: func(c *digest.Credentials) { c.Algorithm = "MD5-sess" }, want: ErrUnsupportedDigest},
		{name: "no qop", adjust: func(c *digest.Credentials) { c.QOP = "" }, want: ErrUnsupportedDigest},
		{name: "auth-int qop", adjust: func(c *digest.Credentials) { c.QOP = "auth-int" }, want: ErrUnsupportedDigest},
		{name: "userhash", adjust: func(c *digest.Credentials) { c.Userhash = true }, want: ErrUnsupportedDigest},
		{name: "no cnonce", adjust: func(c *digest.Credentials) { c.Cnonce = "" }, want: ErrMalformedCredentials},
		{name: "zero nonce count", adjust: func(c *digest.Credentials) { c.Nc = 0 }, want: ErrMalformedCredentials},
		{name: "no response", adjust: func(c *digest.Credentials) { c.Response = "" }, want: ErrMalformedCredentials},
		{name: "other opaque", adjust: func(c *digest.Credentials) { c.Opaque = "ff" }, want: ErrInvalidNonce},
		{name: "other uri", adjust: func(c *digest.Credentials) { c.URI = "sip:127.0.0.1:5070" }, want: ErrDigestURIMismatch},
		// A stale nonce passes here: only a correct response may earn stale=true.
		{name: "stale nonce", adjust: func(c *digest.Credentials) { clock.Advance(time.Hour) }},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			credentials := valid()
			tc.adjust(credentials)

			err := auth.checkParameters(credentials, requestURI)
			if tc.want == nil && err != nil {
				t.Errorf("checkParameters = %v, want nil", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("checkParameters = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	auth := newTestDigestAuth(&fakeClock{now: testStart})

	tests := []struct {
		name    string
		headers []string
		want    error
	}{
		{name: "ours", headers: []string{`Digest username="a", realm="` + testRealm + `", nonce="n", uri="sip:x", response="r"`}},
		{name: "ours after another realm", headers: []string{
			`Digest username="a", realm="elsewhere", nonce="n", uri="sip:x", response="r"`,
			`Digest username="a", realm="` + testRealm + `", nonce="n", uri="sip:x", response="r"`,
		}},
		{name: "none", want: ErrNoCredentials},
		{name: "other realm only", headers: []string{`Digest username="a", realm="elsewhere", nonce="n"`}, want: ErrRealmMismatch},
		{name: "basic scheme", headers: []string{`Basic YWxhZGRpbjpvcGVuc2VzYW1l`}, want: ErrRealmMismatch},
		{name: "unterminated quote", headers: []string{`Digest username="a, realm="` + testRealm}, want: ErrMalformedCredentials},
		{name: "missing equals", headers: []string{`Digest username "a"`}, want: ErrMalformedCredentials},
		{name: "bad nonce count", headers: []string{`Digest username="a", realm="` + testRealm + `", nc=zz`}, want: ErrMalformedCredentials},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := sipmsg.NewRequest(sipmsg.REGISTER, sipmsg.Uri{Scheme: "sip", Host: "x"})
			for _, value := range tc.headers {
				req.AppendHeader(sipmsg.NewHeader("Authorization", value))
			}

			credentials, err := auth.parseAuthorization(req)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Errorf("parseAuthorization = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil || credentials.Realm != testRealm {
				t.Errorf("parseAuthorization = %+v, %v; want credentials for %s", credentials, err, testRealm)
			}
		})
	}
}

// FuzzAuthorizationHeader sends arbitrary Authorization values in an
// otherwise valid REGISTER. The registrar must reject each one with 400, 401
// or 403 and never bind: a forged value cannot carry a nonce signed by this
// process.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, seed := range loadSeeds(f, filepath.Join("testdata", "registrar", "authorization")) {
		f.Add(strings.TrimRight(string(seed), "\r\n"))
	}

	registrar, err := NewRegistrar(RegistrarConfig{Realm: testRealm, Passwords: map[string]string{testUser: testPassword}})
	if err != nil {
		f.Fatalf("NewRegistrar: %v", err)
	}
	allowed := map[int]bool{400: true, 401: true, 403: true}

	f.Fuzz(func(t *testing.T, value string) {
		req := sipmsg.NewRequest(sipmsg.REGISTER, sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5060})
		aor := sipmsg.Uri{Scheme: "sip", User: testUser, Host: testRealm}
		from := &sipmsg.FromHeader{Address: aor, Params: sipmsg.NewParams()}
		from.Params.Add("tag", "f1")
		req.AppendHeader(from)
		req.AppendHeader(&sipmsg.ToHeader{Address: aor})
		callID := sipmsg.CallIDHeader("fuzz")
		req.AppendHeader(&callID)
		req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: 2, MethodName: sipmsg.REGISTER})
		req.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: testUser, Host: "127.0.0.1", Port: 5062}})
		req.AppendHeader(sipmsg.NewHeader("Authorization", value))
		// All inputs share one source address, so the failure guard may
		// reject them with 403 after a few failures.
		req.SetSource("127.0.0.1:5062")
		req.SetTransport("UDP")

		tx := newRecordingTx()
		registrar.HandleRegister(req, tx)

		if len(tx.responses) != 1 {
			t.Fatalf("sent %d responses, want 1", len(tx.responses))
		}
		if code := tx.responses[0].StatusCode; !allowed[code] {
			t.Errorf("status = %d for Authorization %q, want 400, 401 or 403", code, value)
		}
		if _, ok := registrar.Lookup(testUser); ok {
			t.Errorf("Authorization %q created a binding", value)
		}
	})
}
