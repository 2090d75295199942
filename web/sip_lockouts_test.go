package web_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"helpline/web"
)

// fakeSIPLocks is a list of SIP locks that Clear filters as the
// registrar does.
type fakeSIPLocks struct {
	mu sync.Mutex
	// locks are the locks in force; guarded by mu.
	locks []web.SIPLock
}

func (f *fakeSIPLocks) deps() web.SIPLockoutDeps {
	return web.SIPLockoutDeps{
		List: func() []web.SIPLock {
			f.mu.Lock()
			defer f.mu.Unlock()
			return slices.Clone(f.locks)
		},
		Clear: func(user, source string) ([]web.SIPLock, error) {
			if source != "" && !strings.Contains(source, ".") {
				return nil, errors.New("source " + source + " is not an IP address")
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			var cleared, kept []web.SIPLock
			for _, lock := range f.locks {
				if (user == "" || lock.User == user) && (source == "" || lock.Source == source) {
					cleared = append(cleared, lock)
				} else {
					kept = append(kept, lock)
				}
			}
			f.locks = kept
			return cleared, nil
		},
	}
}

func TestSIPLockoutsListAndClear(t *testing.T) {
	f := newLoginFixture(t)
	until := time.Date(2026, 12, 5, 9, 1, 0, 0, time.UTC)
	f.sipLocks.locks = []web.SIPLock{{User: "1001", Source: "10.1.1.1", Until: until}, {User: "1002", Source: "10.1.1.1", Until: until}}
	admin := f.browser(t)
	admin.login(t, "admin", "admin-pass")

	list := admin.api(t, http.MethodGet, "/api/v1/sip-lockouts", "")
	var listed struct {
		Lockouts []web.SIPLock `json:"lockouts"`
	}
	if err := json.Unmarshal([]byte(list.body), &listed); err != nil || list.status != http.StatusOK {
		t.Fatalf("GET /api/v1/sip-lockouts = %d %s", list.status, list.body)
	}
	if len(listed.Lockouts) != 2 || listed.Lockouts[0].User != "1001" || !listed.Lockouts[0].Until.Equal(until) {
		t.Errorf("SIP lockouts = %+v, want both locks", listed.Lockouts)
	}

	supervisor := f.browser(t)
	supervisor.login(t, "park", "park-pass")
	if res := supervisor.api(t, http.MethodGet, "/api/v1/sip-lockouts", ""); res.status != http.StatusForbidden {
		t.Errorf("GET /api/v1/sip-lockouts as supervisor = %d, want 403", res.status)
	}
	if res := admin.do(t, http.MethodDelete, "/api/v1/sip-lockouts", "", "", nil); res.status != http.StatusForbidden {
		t.Errorf("DELETE without CSRF = %d, want 403", res.status)
	}
	if res := admin.api(t, http.MethodDelete, "/api/v1/sip-lockouts?source=office", ""); res.status != http.StatusBadRequest {
		t.Errorf("DELETE with a source that is no address = %d, want 400", res.status)
	}

	cleared := admin.api(t, http.MethodDelete, "/api/v1/sip-lockouts?user=1001&source=10.1.1.1", "")
	if cleared.status != http.StatusOK || !strings.Contains(cleared.body, `"cleared":1`) {
		t.Errorf("DELETE /api/v1/sip-lockouts = %d %s, want one cleared", cleared.status, cleared.body)
	}
	if left := f.sipLocks.deps().List(); len(left) != 1 || left[0].User != "1002" {
		t.Errorf("locks after the clear = %+v, want only 1002's", left)
	}
	if !slices.Contains(f.sessions.actions(), "sip_lockout_cleared admin") {
		t.Errorf("audit = %v, want sip_lockout_cleared by admin", f.sessions.actions())
	}
}
