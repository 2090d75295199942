package sip

import (
	"fmt"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

func TestSourceLogGatesOneLinePerSource(t *testing.T) {
	var gates sourceLogGates
	start := time.Unix(1_000_000, 0)

	if _, ok := gates.allow("10.0.0.1", start); !ok {
		t.Fatal("first line of a source held back")
	}
	for i := range 95 {
		if _, ok := gates.allow("10.0.0.1", start.Add(time.Duration(i)*time.Millisecond)); ok {
			t.Fatalf("repeat %d within the interval let through", i+1)
		}
	}
	if _, ok := gates.allow("10.0.0.2", start); !ok {
		t.Error("first line of a second source held back")
	}

	suppressed, ok := gates.allow("10.0.0.1", start.Add(sourceLogInterval))
	if !ok {
		t.Fatal("line after the interval held back")
	}
	if suppressed != 95 {
		t.Errorf("suppressed = %d after the interval, want 95", suppressed)
	}
}

func TestSourceLogGatesBoundsSources(t *testing.T) {
	var gates sourceLogGates
	now := time.Unix(1_000_000, 0)
	for i := range maxLogSources + 100 {
		gates.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff), now)
	}
	if n := len(gates.gates); n > maxLogSources+1 {
		t.Errorf("%d sources tracked, want at most %d and the shared gate", n, maxLogSources)
	}
	if _, ok := gates.allow("192.0.2.1", now); ok {
		t.Error("a new source past the bound was let through while the shared gate was closed")
	}
}

func TestRegistrarLogsInsecurePhoneOncePerSource(t *testing.T) {
	logs := &lockedBuffer{}
	registrar, err := NewRegistrar(RegistrarConfig{
		Realm: testRealm, Passwords: map[string]string{testUser: testPassword},
		Logger:   zerolog.New(logs),
		Security: SecurityPolicy{RequiredOutsideOffice: true},
	})
	if err != nil {
		t.Fatalf("NewRegistrar: %v", err)
	}

	for i := range 96 {
		res := registrar.processRegister(limitRequestText(t, "REGISTER", "127.0.0.3:5060", "UDP", "", i))
		if res.StatusCode != sipmsg.StatusForbidden {
			t.Fatalf("REGISTER %d: status %d, want 403", i, res.StatusCode)
		}
	}
	registrar.processRegister(limitRequestText(t, "REGISTER", "127.0.0.4:5060", "UDP", "", 100))

	const message = "register rejected: the phone is outside the office networks"
	if n := strings.Count(logs.String(), message); n != 2 {
		t.Errorf("%d rejection lines for 96 REGISTERs from one source and 1 from another, want 2:\n%s", n, logs.String())
	}
}

func TestUntrustedCallLoggedOncePerSource(t *testing.T) {
	logs, counter, published := &lockedBuffer{}, &limitCounter{}, &eventRecorder{}
	srv := newLimitServer(t, logs, counter, published)

	// The rate limit lets a burst of 2 through to the trunk check.
	for i := range 2 {
		if got := sendLimited(srv, limitRequestText(t, "INVITE", "127.0.0.3:5060", "UDP", "", i)); got != sipmsg.StatusForbidden {
			t.Fatalf("INVITE %d from an untrusted source: status %d, want 403", i, got)
		}
	}
	if got := sendLimited(srv, limitRequestText(t, "INVITE", "127.0.0.5:5060", "UDP", "", 9)); got != sipmsg.StatusForbidden {
		t.Fatalf("INVITE from a second untrusted source: status %d, want 403", got)
	}

	if n := strings.Count(logs.String(), `"message":"call rejected"`); n != 2 {
		t.Errorf("%d call rejected lines for 2 INVITEs from one source and 1 from another, want 2:\n%s", n, logs.String())
	}
}
