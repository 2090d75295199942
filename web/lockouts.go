package web

import (
	"fmt"
	"net/http"
	"strings"
)

// AuditLockoutCleared is the audit action of an administrator ending
// login lockouts early.
const AuditLockoutCleared = "lockout_cleared"

// lockoutsBody is the body of GET /api/v1/lockouts.
type lockoutsBody struct {
	Lockouts []Lock `json:"lockouts"`
}

// clearedBody is the body of DELETE /api/v1/lockouts.
type clearedBody struct {
	Cleared  int    `json:"cleared"`
	Lockouts []Lock `json:"lockouts"`
}

// serveLockouts lists the login lockouts active on this node, the latest
// end first. It shows names and addresses only, never a password.
func (a *API) serveLockouts(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, lockoutsBody{Lockouts: a.login.lockout.list(a.now())})
}

// serveClearLockouts ends the lockouts that match ?user= and ?source=
// (both optional; none clears every lockout) and deletes their failure
// counts. It responds with the locks it ended.
func (a *API) serveClearLockouts(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	user, source := strings.TrimSpace(query.Get("user")), strings.TrimSpace(query.Get("source"))
	if len(user) > maxUserNameLength || !printable(user) || len(source) > maxSourceLength || !printable(source) {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("invalid user or source: use a login name of at most %d bytes and an IP address", maxUserNameLength))
		return
	}

	cleared := a.login.lockout.clear(a.now(), user, source)
	target := lockoutTarget(user, source)
	a.Audit(r, AuditLockoutCleared, target, fmt.Sprintf("cleared=%d", len(cleared)))
	p, _ := PrincipalFrom(r.Context())
	a.log.Info().Str("user", p.User).Str("target", target).Int("cleared", len(cleared)).Msg("login lockouts cleared")

	if cleared == nil {
		cleared = []Lock{}
	}
	WriteJSON(w, http.StatusOK, clearedBody{Cleared: len(cleared), Lockouts: cleared})
}

// maxSourceLength bounds the ?source= of DELETE /api/v1/lockouts: the
// longest IPv6 address with a zone fits.
const maxSourceLength = 64

// lockoutTarget names the lockouts a clear request matched, for the
// audit log.
func lockoutTarget(user, source string) string {
	var parts []string
	if user != "" {
		parts = append(parts, "user="+user)
	}
	if source != "" {
		parts = append(parts, "source="+source)
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}
