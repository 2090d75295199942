package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// AuditSIPLockoutCleared is the audit action of an administrator ending
// SIP authentication locks early.
const AuditSIPLockoutCleared = "sip_lockout_cleared"

// SIPLock is one lock of a counselor id at a source address after
// repeated failed SIP digest authentications.
type SIPLock struct {
	// User is the counselor id the failed requests named.
	User string `json:"user"`
	// Source is the address the lock applies to.
	Source string `json:"source"`
	// Until is when the lock ends.
	Until time.Time `json:"until"`
}

// SIPLockoutDeps are the dependencies of the SIP lockout routes.
type SIPLockoutDeps struct {
	// List returns the locks in force on this node, the latest end first.
	List func() []SIPLock
	// Clear ends the locks of user at source, where an empty value
	// matches any, and returns the ended locks. It returns an error for
	// a source that is not an IP address.
	Clear func(user, source string) ([]SIPLock, error)
}

// sipLockoutsBody is the body of GET /api/v1/sip-lockouts.
type sipLockoutsBody struct {
	Lockouts []SIPLock `json:"lockouts"`
}

// sipClearedBody is the body of DELETE /api/v1/sip-lockouts.
type sipClearedBody struct {
	Cleared  int       `json:"cleared"`
	Lockouts []SIPLock `json:"lockouts"`
}

// RegisterSIPLockouts adds GET /api/v1/sip-lockouts, which lists the SIP
// authentication locks in force on this node, and DELETE
// /api/v1/sip-lockouts[?user=ID][&source=ADDRESS], which ends those that
// match and is audited. Both are for admins only.
func RegisterSIPLockouts(api *API, deps SIPLockoutDeps) {
	api.Handle("GET /api/v1/sip-lockouts", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		list := deps.List()
		if list == nil {
			list = []SIPLock{}
		}
		WriteJSON(w, http.StatusOK, sipLockoutsBody{Lockouts: list})
	})
	api.Handle("DELETE /api/v1/sip-lockouts", func(w http.ResponseWriter, r *http.Request) {
		api.serveClearSIPLockouts(w, r, deps)
	})
}

// serveClearSIPLockouts ends the SIP locks that match ?user= and ?source=
// and responds with them. Both are optional, and without either it ends
// every lock.
func (a *API) serveClearSIPLockouts(w http.ResponseWriter, r *http.Request, deps SIPLockoutDeps) {
	query := r.URL.Query()
	user, source := strings.TrimSpace(query.Get("user")), strings.TrimSpace(query.Get("source"))
	if len(user) > maxUserNameLength || !printable(user) || len(source) > maxSourceLength || !printable(source) {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("invalid user or source: use a counselor id of at most %d bytes and an IP address", maxUserNameLength))
		return
	}
	cleared, err := deps.Clear(user, source)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}

	target := lockoutTarget(user, source)
	a.Audit(r, AuditSIPLockoutCleared, target, fmt.Sprintf("cleared=%d", len(cleared)))
	p, _ := PrincipalFrom(r.Context())
	a.log.Info().Str("user", p.User).Str("target", target).Int("cleared", len(cleared)).Msg("SIP authentication locks cleared")

	if cleared == nil {
		cleared = []SIPLock{}
	}
	WriteJSON(w, http.StatusOK, sipClearedBody{Cleared: len(cleared), Lockouts: cleared})
}
