package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"helpline/web"
)

// streamEndDeadline is how long a test waits for a stream to end after
// its session ended.
const streamEndDeadline = 10 * time.Second

// openSessionStream opens path as an event stream with b's session
// cookie, waits for its first event and returns a channel that closes
// when the stream ends.
func (b *browser) openSessionStream(t *testing.T, path string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	res, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		t.Fatalf("GET %s = %d, want 200", path, res.StatusCode)
	}

	first := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer res.Body.Close()
		scanner := bufio.NewScanner(res.Body)
		sawEvent := false
		for scanner.Scan() {
			if !sawEvent && strings.HasPrefix(scanner.Text(), "event: ") {
				sawEvent = true
				close(first)
			}
		}
	}()
	select {
	case <-first:
	case <-ended:
		t.Fatalf("stream %s ended before its first event", path)
	case <-time.After(eventDeadline):
		t.Fatalf("no event on %s within %v", path, eventDeadline)
	}
	return ended
}

func waitStreamEnd(t *testing.T, ended <-chan struct{}, after string) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(streamEndDeadline):
		t.Fatalf("stream still open %v after %s", streamEndDeadline, after)
	}
}

func TestLogoutEndsOpenStream(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	b.login(t, "kim", "kim-pass")
	ended := b.openSessionStream(t, "/api/v1/console/stream")

	form := url.Values{"csrf": {b.csrf}}.Encode()
	if res := b.do(t, http.MethodPost, "/logout", "application/x-www-form-urlencoded", form, nil); res.status != http.StatusSeeOther {
		t.Fatalf("logout = %d %s, want 303", res.status, res.body)
	}
	waitStreamEnd(t, ended, "the logout")
}

func TestSessionExpiryEndsOpenStream(t *testing.T) {
	f := newLoginFixtureWithTTL(t, time.Second)
	b := f.browser(t)
	b.login(t, "kim", "kim-pass")
	ended := b.openSessionStream(t, "/api/v1/console/stream")
	waitStreamEnd(t, ended, "the session's expiry")
}

func TestLoginEndsPreviousSession(t *testing.T) {
	f := newLoginFixture(t)
	b := f.browser(t)
	b.login(t, "kim", "kim-pass")
	base, _ := url.Parse(b.base)
	var old string
	for _, c := range b.client.Jar.Cookies(base) {
		if c.Name == web.SessionCookie {
			old = c.Value
		}
	}
	if old == "" {
		t.Fatal("no session cookie after login")
	}
	stream := b.openSessionStream(t, "/api/v1/console/stream")

	b.login(t, "park", "park-pass")
	if f.sessions.count() != 1 {
		t.Errorf("%d sessions stored after the second login, want 1", f.sessions.count())
	}
	stale := f.browser(t)
	res := stale.do(t, http.MethodGet, "/api/v1/session", "", "", map[string]string{"Cookie": web.SessionCookie + "=" + old})
	if res.status != http.StatusUnauthorized {
		t.Errorf("old session after a new login = %d %s, want 401", res.status, res.body)
	}
	waitStreamEnd(t, stream, "a new login in the same browser")
}
