package sip

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/events"
)

// lockoutEnv is a registrar with a short lockout, a fake clock, a log and
// the events it publishes, called without sockets.
type lockoutEnv struct {
	registrar *Registrar
	clock     *fakeClock
	logs      *lockedBuffer
	published *eventRecorder
}

const (
	testLockoutAttempts = 3
	testLockoutDuration = 30 * time.Second
	sourceA             = "192.0.2.10:5060"
	sourceB             = "192.0.2.20:5060"
)

func newLockoutEnv(t *testing.T) *lockoutEnv {
	t.Helper()
	env := &lockoutEnv{clock: &fakeClock{now: testStart}, logs: &lockedBuffer{}, published: &eventRecorder{}}
	r, err := NewRegistrar(RegistrarConfig{
		Realm:               testRealm,
		DigestAlgorithms:    []string{algorithmMD5},
		Passwords:           map[string]string{"1001": "secret-1001", "1002": "secret-1002"},
		Logger:              zerolog.New(env.logs).Level(zerolog.DebugLevel),
		Now:                 env.clock.Now,
		AuthLockoutAttempts: testLockoutAttempts,
		AuthLockoutDuration: testLockoutDuration,
		Events:              env.published,
	})
	if err != nil {
		t.Fatalf("NewRegistrar: %v", err)
	}
	env.registrar = r
	return env
}

// invite sends a feature code INVITE from user at source, answers the
// challenge with password, and returns the status of the final answer:
// 200 when AuthenticateCall accepted the counselor.
func (e *lockoutEnv) invite(t *testing.T, user, password, source string) int {
	t.Helper()
	req := featureInvite(user, "")
	req.SetSource(source)
	if _, res := e.registrar.AuthenticateCall(req); res.StatusCode != sipmsg.StatusUnauthorized {
		return res.StatusCode
	} else {
		req = featureInvite(user, answerChallenge(t, res, algorithmMD5, req, user, password))
	}
	req.SetSource(source)
	id, res := e.registrar.AuthenticateCall(req)
	if res != nil {
		return res.StatusCode
	}
	if id != user {
		t.Fatalf("AuthenticateCall accepted %q, want %q", id, user)
	}
	return sipmsg.StatusOK
}

// register sends a REGISTER of user at source, answers the challenge with
// password and returns the final status.
func (e *lockoutEnv) register(t *testing.T, user, password, source string) int {
	t.Helper()
	req := rawRegister(t, registerHeaders{to: "sip:" + user + "@" + testRealm, from: "sip:" + user + "@" + testRealm}, source, 1, "")
	res := e.registrar.processRegister(req)
	if res.StatusCode != sipmsg.StatusUnauthorized {
		return res.StatusCode
	}
	authorization := answerChallenge(t, res, algorithmMD5, req, user, password)
	req = rawRegister(t, registerHeaders{to: "sip:" + user + "@" + testRealm, from: "sip:" + user + "@" + testRealm}, source, 2, authorization)
	return e.registrar.processRegister(req).StatusCode
}

func (e *lockoutEnv) lockEvents() []events.Event {
	e.published.mu.Lock()
	defer e.published.mu.Unlock()
	var locked []events.Event
	for _, ev := range e.published.events {
		if ev.Type == events.SIPAuthLocked {
			locked = append(locked, ev)
		}
	}
	return locked
}

func TestAuthLockoutLocksUserAtSource(t *testing.T) {
	env := newLockoutEnv(t)

	for attempt := 1; attempt <= testLockoutAttempts; attempt++ {
		if status := env.invite(t, "1001", "guess", sourceA); status != sipmsg.StatusUnauthorized {
			t.Fatalf("wrong password %d: status = %d, want 401", attempt, status)
		}
	}
	lockedAt := env.clock.Now()

	// The right password from the locked source is refused, for INVITE
	// and REGISTER alike.
	if status := env.invite(t, "1001", "secret-1001", sourceA); status != sipmsg.StatusForbidden {
		t.Errorf("right password from the locked source: INVITE status = %d, want 403", status)
	}
	if status := env.register(t, "1001", "secret-1001", sourceA); status != sipmsg.StatusForbidden {
		t.Errorf("right password from the locked source: REGISTER status = %d, want 403", status)
	}
	// Another source, and another counselor at the same source, work.
	if status := env.invite(t, "1001", "secret-1001", sourceB); status != sipmsg.StatusOK {
		t.Errorf("right password from another source: status = %d, want 200", status)
	}
	if status := env.register(t, "1002", "secret-1002", sourceA); status != sipmsg.StatusOK {
		t.Errorf("another counselor at the locked source: status = %d, want 200", status)
	}

	// Just before the end the lock holds; at the end it is gone.
	env.clock.Advance(testLockoutDuration - time.Second)
	if status := env.register(t, "1001", "secret-1001", sourceA); status != sipmsg.StatusForbidden {
		t.Errorf("1 s before the lock ends: status = %d, want 403", status)
	}
	env.clock.Advance(time.Second)
	if status := env.register(t, "1001", "secret-1001", sourceA); status != sipmsg.StatusOK {
		t.Errorf("when the lock ends: status = %d, want 200", status)
	}

	locked := env.lockEvents()
	if len(locked) != 1 {
		t.Fatalf("published %d sip_auth_locked events, want 1: %+v", len(locked), locked)
	}
	want := map[string]string{
		"user":   "1001",
		"source": "192.0.2.10",
		"method": "INVITE",
		"until":  lockedAt.Add(testLockoutDuration).UTC().Format(time.RFC3339),
	}
	for key, value := range want {
		if locked[0].Data[key] != value {
			t.Errorf("event data %s = %q, want %q", key, locked[0].Data[key], value)
		}
	}

	logs := env.logs.String()
	if n := strings.Count(logs, "counselor locked at this address"); n != 1 {
		t.Errorf("lock logged %d times, want once:\n%s", n, logs)
	}
	for _, field := range []string{`"user":"1001"`, `"source_address":"192.0.2.10"`, `"until":"` + lockedAt.Add(testLockoutDuration).Format(time.RFC3339)} {
		if !strings.Contains(logs, field) {
			t.Errorf("logs lack %s:\n%s", field, logs)
		}
	}
}

// Failures further apart than the lockout duration do not add up, and a
// success ends the streak.
func TestAuthLockoutNeedsFailuresInARow(t *testing.T) {
	env := newLockoutEnv(t)

	for range testLockoutAttempts + 1 {
		if status := env.register(t, "1001", "guess", sourceA); status != sipmsg.StatusUnauthorized {
			t.Fatalf("spread-out wrong password: status = %d, want 401", status)
		}
		env.clock.Advance(testLockoutDuration)
	}
	for range testLockoutAttempts - 1 {
		env.register(t, "1001", "guess", sourceA)
	}
	if status := env.register(t, "1001", "secret-1001", sourceA); status != sipmsg.StatusOK {
		t.Fatalf("right password after %d failures: status = %d, want 200", testLockoutAttempts-1, status)
	}
	for range testLockoutAttempts - 1 {
		env.register(t, "1001", "guess", sourceA)
	}
	if status := env.register(t, "1001", "secret-1001", sourceA); status != sipmsg.StatusOK {
		t.Errorf("right password after a success and %d failures: status = %d, want 200", testLockoutAttempts-1, status)
	}
	if locked := env.lockEvents(); len(locked) != 0 {
		t.Errorf("published %v, want no lock", locked)
	}
}

func TestRegistrarRejectsNegativeLockout(t *testing.T) {
	_, err := NewRegistrar(RegistrarConfig{
		Realm:               testRealm,
		Passwords:           map[string]string{"1001": "secret-1001"},
		AuthLockoutAttempts: -1,
	})
	if err == nil || !strings.Contains(err.Error(), "AuthLockoutAttempts -1") {
		t.Errorf("NewRegistrar = %v, want an error naming AuthLockoutAttempts", err)
	}
}

func TestRegistrarListsAndClearsAuthLocks(t *testing.T) {
	registrar, err := NewRegistrar(RegistrarConfig{Realm: testRealm, Passwords: map[string]string{testUser: testPassword},
		AuthLockoutAttempts: 2, AuthLockoutDuration: time.Minute})
	if err != nil {
		t.Fatalf("NewRegistrar: %v", err)
	}
	now := time.Now()
	registrar.now = func() time.Time { return now }
	office := netip.MustParseAddr("192.0.2.10")
	for _, user := range []string{"1001", "1002"} {
		for range 2 {
			registrar.guard.recordFailure(office, user, now)
		}
	}
	registrar.guard.recordFailure(office, "1003", now)

	locks := registrar.AuthLocks()
	if len(locks) != 2 || locks[0].User != "1001" || locks[1].User != "1002" || locks[0].Source != office {
		t.Fatalf("AuthLocks = %+v, want 1001 and 1002 at %s, not 1003 with one failure", locks, office)
	}
	if _, err := registrar.ClearAuthLocks("1001", "office"); err == nil {
		t.Error("ClearAuthLocks with a source that is no address: no error")
	}

	cleared, err := registrar.ClearAuthLocks("1001", "192.0.2.10")
	if err != nil || len(cleared) != 1 || cleared[0].User != "1001" {
		t.Fatalf("ClearAuthLocks(1001) = %+v, %v; want 1001's lock", cleared, err)
	}
	if _, locked := registrar.guard.lockedUntil(office, "1001", now); locked {
		t.Error("1001 still locked after the clear")
	}
	if _, locked := registrar.guard.lockedUntil(office, "1002", now); !locked {
		t.Error("1002's lock ended by a clear of 1001")
	}
	if cleared, _ := registrar.ClearAuthLocks("", ""); len(cleared) != 1 {
		t.Errorf("ClearAuthLocks of all = %+v, want 1002's lock", cleared)
	}
}
