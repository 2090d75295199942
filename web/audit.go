package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"helpline/records"
)

// Audit actions of the pages' records. The login actions are in login.go.
const (
	AuditViewCall        = "view_call"
	AuditRevealNumber    = "reveal_number"
	AuditExportCSV       = "export_csv"
	AuditWrapUpSaved     = "wrap_up_saved"
	AuditFollowUpChanged = "followup_changed"
)

// auditTimeout bounds one audit write.
const auditTimeout = 5 * time.Second

// Auditor stores audit entries. *records.Store implements it.
type Auditor interface {
	Audit(ctx context.Context, e records.AuditEntry) error
}

// AuditLister lists the audit log, newest first. *records.Store
// implements it. An Auditor that is also an AuditLister serves GET
// /api/v1/audit.
type AuditLister interface {
	ListAudit(ctx context.Context, limit int) ([]records.AuditEntry, error)
}

// WithAuditor sets where audit entries go. Without it nothing is audited.
func WithAuditor(auditor Auditor) Option {
	return func(a *API) { a.auditor = auditor }
}

// Audit stores an audit entry for the request's principal: action (such as
// "reveal_number"), target (such as a call id) and detail. A failure is
// logged and does not change the response. The entry is written before Audit
// returns, within 5 seconds.
func (a *API) Audit(r *http.Request, action, target, detail string) {
	p, _ := PrincipalFrom(r.Context())
	if p.Source == "" {
		p.Source = clientIP(r)
	}
	a.audit(r, records.AuditEntry{User: p.User, Role: string(p.Role), Source: p.Source, Action: action, Target: target, Detail: detail})
}

// audit stores e, stamped with the API's clock.
func (a *API) audit(r *http.Request, e records.AuditEntry) {
	if a.auditor == nil {
		return
	}
	if e.At.IsZero() {
		e.At = a.now()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if err := a.auditor.Audit(ctx, e); err != nil {
		a.log.Error().Err(err).Str("action", e.Action).Str("user", e.User).Msg("storing an audit entry failed")
	}
}

// auditEntryJSON is one entry of GET /api/v1/audit.
type auditEntryJSON struct {
	At     time.Time `json:"at"`
	User   string    `json:"user"`
	Role   string    `json:"role"`
	Source string    `json:"source"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
}

// serveAudit lists the newest audit entries: GET /api/v1/audit?limit=N.
func (a *API) serveAudit(w http.ResponseWriter, r *http.Request, list AuditLister) {
	limit := records.DefaultAuditLimit
	if text := r.URL.Query().Get("limit"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > records.MaxAuditLimit {
			WriteError(w, http.StatusBadRequest, "limit "+strconv.Quote(text)+" is not a number from 1 to "+strconv.Itoa(records.MaxAuditLimit))
			return
		}
		limit = n
	}
	entries, err := list.ListAudit(r.Context(), limit)
	if err != nil {
		a.log.Error().Err(err).Msg("listing the audit log failed")
		WriteError(w, http.StatusInternalServerError, "listing the audit log failed: see the server log")
		return
	}
	body := make([]auditEntryJSON, 0, len(entries))
	for _, e := range entries {
		body = append(body, auditEntryJSON(e))
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, map[string]any{"entries": body})
}
