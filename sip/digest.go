package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Digest parameters (RFC 7616 section 3.3, RFC 8760 section 2.2 for SIP).
// Credentials with either algorithm are accepted; which challenges a 401
// carries is configured, because some deployed softphones (baresip 1.0,
// built on libre 1.x) reject a 401 as soon as any challenge names SHA-256.
const (
	algorithmSHA256 = "SHA-256"
	algorithmMD5    = "MD5"
	qopAuth         = "auth"

	// nonceLifetime is how long an issued nonce stays fresh. A correct
	// response with an older nonce gets a new challenge with stale=true.
	nonceLifetime = 5 * time.Minute

	// Nonce layout before base64url encoding: issue time in Unix nanoseconds,
	// random salt, then an HMAC-SHA-256 tag over both, truncated.
	nonceTimeSize = 8
	nonceSaltSize = 8
	nonceTagSize  = 16
	nonceSize     = nonceTimeSize + nonceSaltSize + nonceTagSize

	nonceSecretSize = 32
	opaqueSize      = 16
)

// digestAuth issues and checks HTTP digest credentials for SIP requests. Its
// nonces are verifiable without server state: each one carries its issue time
// and an HMAC made with a random per-process secret, so a restart invalidates
// all outstanding nonces and clients are challenged again. Only nonces that
// passed a full check are stored, with their nonce count, to reject replays.
type digestAuth struct {
	realm string
	// algorithms lists the challenges each 401 carries, in order.
	algorithms []string
	secret     []byte
	opaque     string
	now        func() time.Time

	// mu guards acceptedNonces.
	mu sync.Mutex
	// acceptedNonces maps each fresh nonce that authenticated a request to
	// the highest nonce count accepted with it.
	acceptedNonces map[string]acceptedNonce
}

type acceptedNonce struct {
	issuedAt time.Time
	count    int
}

// newDigestAuth draws a new nonce secret and opaque value. crypto/rand.Read
// never returns an error (it crashes the program instead), so neither needs a
// check here or in issueNonce.
func newDigestAuth(realm string, algorithms []string, now func() time.Time) *digestAuth {
	secret := make([]byte, nonceSecretSize)
	_, _ = rand.Read(secret)

	opaque := make([]byte, opaqueSize)
	_, _ = rand.Read(opaque)

	return &digestAuth{
		realm:          realm,
		algorithms:     algorithms,
		secret:         secret,
		opaque:         hex.EncodeToString(opaque),
		now:            now,
		acceptedNonces: make(map[string]acceptedNonce),
	}
}

// challenges builds the WWW-Authenticate header values for a 401 response:
// one challenge per configured algorithm, all sharing a fresh nonce.
func (d *digestAuth) challenges(stale bool) []string {
	nonce := d.issueNonce()
	values := make([]string, 0, len(d.algorithms))
	for _, algorithm := range d.algorithms {
		challenge := digest.Challenge{
			Realm:     d.realm,
			Nonce:     nonce,
			Opaque:    d.opaque,
			Stale:     stale,
			Algorithm: algorithm,
			QOP:       []string{qopAuth},
		}
		values = append(values, challenge.String())
	}
	return values
}

func (d *digestAuth) issueNonce() string {
	raw := make([]byte, nonceSize)
	binary.BigEndian.PutUint64(raw[:nonceTimeSize], uint64(d.now().UnixNano()))
	_, _ = rand.Read(raw[nonceTimeSize : nonceTimeSize+nonceSaltSize])
	copy(raw[nonceTimeSize+nonceSaltSize:], d.nonceTag(raw[:nonceTimeSize+nonceSaltSize]))
	return base64.RawURLEncoding.EncodeToString(raw)
}

func (d *digestAuth) nonceTag(payload []byte) []byte {
	mac := hmac.New(sha256.New, d.secret)
	mac.Write([]byte(d.realm))
	mac.Write(payload)
	return mac.Sum(nil)[:nonceTagSize]
}

// checkNonce returns ErrInvalidNonce when this process did not issue the
// nonce, and ErrStaleNonce when it did but the nonce is older than
// nonceLifetime.
func (d *digestAuth) checkNonce(nonce string) error {
	issuedAt, err := d.nonceIssueTime(nonce)
	if err != nil {
		return err
	}

	age := d.now().Sub(issuedAt)
	if age > nonceLifetime || age < -nonceLifetime {
		return fmt.Errorf("nonce issued %s ago: %w", age.Round(time.Second), ErrStaleNonce)
	}
	return nil
}

// nonceIssueTime verifies the HMAC tag of nonce and returns the issue time
// it carries.
func (d *digestAuth) nonceIssueTime(nonce string) (time.Time, error) {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != nonceSize {
		return time.Time{}, fmt.Errorf("decode nonce: %w", ErrInvalidNonce)
	}

	payload := raw[:nonceTimeSize+nonceSaltSize]
	if !hmac.Equal(raw[nonceTimeSize+nonceSaltSize:], d.nonceTag(payload)) {
		return time.Time{}, fmt.Errorf("verify nonce tag: %w", ErrInvalidNonce)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw[:nonceTimeSize]))), nil
}

// acceptNonceCount records that nonce authenticated a request with count,
// and returns ErrNonceReused when count is not above every count accepted
// with that nonce before (RFC 7616 section 3.4). Call it only for a fresh
// nonce with a verified response. Entries are dropped once their nonce is
// stale, because a stale nonce is rejected before this check.
func (d *digestAuth) acceptNonceCount(nonce string, count int) error {
	issuedAt, err := d.nonceIssueTime(nonce)
	if err != nil {
		return err
	}
	now := d.now()

	d.mu.Lock()
	defer d.mu.Unlock()

	for key, accepted := range d.acceptedNonces {
		if now.Sub(accepted.issuedAt) > nonceLifetime {
			delete(d.acceptedNonces, key)
		}
	}

	if accepted, ok := d.acceptedNonces[nonce]; ok && count <= accepted.count {
		return fmt.Errorf("nonce count %d not above %d: %w", count, accepted.count, ErrNonceReused)
	}
	d.acceptedNonces[nonce] = acceptedNonce{issuedAt: issuedAt, count: count}
	return nil
}

// parseAuthorization returns the digest credentials addressed to this realm.
// Authorization headers for other realms or other schemes are skipped.
func (d *digestAuth) parseAuthorization(req *sipmsg.Request) (*digest.Credentials, error) {
	headers := req.GetHeaders("Authorization")
	if len(headers) == 0 {
		return nil, ErrNoCredentials
	}

	var otherRealm string
	for _, header := range headers {
		value := strings.TrimSpace(header.Value())
		if !digest.IsDigest(value) {
			continue
		}

		credentials, err := digest.ParseCredentials(value)
		if err != nil {
			return nil, fmt.Errorf("parse Authorization header: %v: %w", err, ErrMalformedCredentials)
		}
		if credentials.Realm == d.realm {
			return credentials, nil
		}
		otherRealm = credentials.Realm
	}

	if otherRealm != "" {
		return nil, fmt.Errorf("credentials for realm %q, expected %q: %w", otherRealm, d.realm, ErrRealmMismatch)
	}
	return nil, fmt.Errorf("no digest credentials for realm %q: %w", d.realm, ErrRealmMismatch)
}

// checkParameters validates the parts of the credentials that do not depend
// on the password: the options this server offered, the digest URI and the
// nonce signature. A stale nonce is not reported here, because the response
// must be verified first to tell a stale nonce from a wrong password.
func (d *digestAuth) checkParameters(credentials *digest.Credentials, requestURI sipmsg.Uri) error {
	if credentials.Username == "" || credentials.Response == "" || credentials.Nonce == "" {
		return fmt.Errorf("username, nonce or response missing: %w", ErrMalformedCredentials)
	}

	if err := checkDigestOptions(credentials); err != nil {
		return err
	}

	if err := checkDigestURI(credentials.URI, requestURI); err != nil {
		return err
	}

	if credentials.Opaque != d.opaque {
		return fmt.Errorf("opaque value not issued by this server: %w", ErrInvalidNonce)
	}

	err := d.checkNonce(credentials.Nonce)
	if err != nil && !errors.Is(err, ErrStaleNonce) {
		return err
	}
	return nil
}

func checkDigestOptions(credentials *digest.Credentials) error {
	switch strings.ToUpper(credentials.Algorithm) {
	case "", algorithmMD5, algorithmSHA256:
	default:
		return fmt.Errorf("algorithm %q not offered: %w", credentials.Algorithm, ErrUnsupportedDigest)
	}

	if credentials.QOP != qopAuth {
		return fmt.Errorf("qop %q not offered, expected %q: %w", credentials.QOP, qopAuth, ErrUnsupportedDigest)
	}

	if credentials.Userhash {
		return fmt.Errorf("userhash not offered: %w", ErrUnsupportedDigest)
	}

	if credentials.Cnonce == "" || credentials.Nc <= 0 {
		return fmt.Errorf("cnonce or nonce count missing with qop %q: %w", qopAuth, ErrMalformedCredentials)
	}
	return nil
}

// checkDigestURI compares the digest-uri with the Request-URI (RFC 3261
// section 22.4). URI parameters are ignored, because common clients,
// sipgo's among them, leave them out of the digest-uri.
func checkDigestURI(digestURI string, requestURI sipmsg.Uri) error {
	var parsed sipmsg.Uri
	if err := sipmsg.ParseUri(digestURI, &parsed); err != nil {
		return fmt.Errorf("parse digest uri %q: %v: %w", digestURI, err, ErrDigestURIMismatch)
	}

	if !strings.EqualFold(parsed.Addr(), requestURI.Addr()) {
		return fmt.Errorf("digest uri %q differs from request uri %q: %w", digestURI, requestURI.Addr(), ErrDigestURIMismatch)
	}
	return nil
}

// checkResponse recomputes the request digest with the stored password and
// compares it in constant time. It returns ErrWrongPassword on a mismatch.
func checkResponse(credentials *digest.Credentials, method, password string) error {
	challenge := &digest.Challenge{
		Realm:     credentials.Realm,
		Nonce:     credentials.Nonce,
		Opaque:    credentials.Opaque,
		Algorithm: strings.ToUpper(credentials.Algorithm),
		QOP:       []string{qopAuth},
	}
	expected, err := digest.Digest(challenge, digest.Options{
		Method:   method,
		URI:      credentials.URI,
		Username: credentials.Username,
		Password: password,
		Cnonce:   credentials.Cnonce,
		Count:    credentials.Nc,
	})
	if err != nil {
		return fmt.Errorf("compute expected digest: %v: %w", err, ErrUnsupportedDigest)
	}

	received := []byte(strings.ToLower(credentials.Response))
	if subtle.ConstantTimeCompare(received, []byte(expected.Response)) != 1 {
		return ErrWrongPassword
	}
	return nil
}
