package records

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ErrSessionNotFound is returned by GetSession for a token without a
// stored session.
var ErrSessionNotFound = errors.New("web session not found")

// Limits of ListAudit.
const (
	// DefaultAuditLimit is the number of entries ListAudit returns for a
	// limit of zero or less.
	DefaultAuditLimit = 100
	// MaxAuditLimit caps the limit of ListAudit.
	MaxAuditLimit = 1000
)

// Session is one web login. The store keys it by the SHA-256 of its
// token, and never stores the token.
type Session struct {
	// User is the login name.
	User string
	// Role is the user's role when the session began.
	Role string
	// Counselor is the counselor id of a counselor login, else empty.
	Counselor string
	// CSRF is the token that unsafe requests of this session must carry.
	CSRF string
	// CreatedAt and ExpiresAt bound the session, in UTC when read back.
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuditEntry is one audited action.
type AuditEntry struct {
	// At is when it happened; the store's clock fills a zero time.
	At time.Time
	// User is the login name, "api-token" for the bearer token, or the
	// name that was typed for a failed login.
	User string
	// Role is the user's role, empty when unknown.
	Role string
	// Source is the client's IP address.
	Source string
	// Action names what happened, such as login, login_failed or
	// reveal_number.
	Action string
	// Target is what the action was about, such as a call id.
	Target string
	// Detail is free text that never holds a password or a full number.
	Detail string
}

// SessionTokenHash returns the hex SHA-256 of a session token, the key
// under which the store keeps the session.
func SessionTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateSession stores s under the hash of token. An empty token, user,
// role or CSRF token, or a session that ends before it begins, is
// ErrInvalidInput.
func (s *Store) CreateSession(ctx context.Context, token string, session Session) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if token == "" || session.User == "" || session.Role == "" || session.CSRF == "" ||
		!session.ExpiresAt.After(session.CreatedAt) {
		return fmt.Errorf("create web session for %q: %w: token, user, role, CSRF token and a lifetime are required",
			session.User, ErrInvalidInput)
	}
	_, err := s.exec(ctx, `INSERT INTO web_sessions (token_hash, user_name, role, counselor, csrf, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		SessionTokenHash(token), session.User, session.Role, session.Counselor, session.CSRF,
		session.CreatedAt.UnixNano(), session.ExpiresAt.UnixNano())
	if err != nil {
		return fmt.Errorf("create web session for %q: %w", session.User, err)
	}
	return nil
}

// GetSession returns the session of token, expired or not, or an error
// wrapping ErrSessionNotFound. The caller decides what an expired session
// means.
func (s *Store) GetSession(ctx context.Context, token string) (Session, error) {
	if err := s.checkOpen(); err != nil {
		return Session{}, err
	}
	row := s.reader.QueryRowContext(ctx, s.dialect.bind(`SELECT user_name, role, counselor, csrf, created_at, expires_at
		FROM web_sessions WHERE token_hash = ?`), SessionTokenHash(token))
	var session Session
	var created, expires int64
	err := row.Scan(&session.User, &session.Role, &session.Counselor, &session.CSRF, &created, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Session{}, fmt.Errorf("get web session: %w", ErrSessionNotFound)
	case err != nil:
		return Session{}, fmt.Errorf("get web session: %w", err)
	}
	session.CreatedAt = unixNanoUTC(created)
	session.ExpiresAt = unixNanoUTC(expires)
	return session, nil
}

// DeleteSession removes the session of token. Removing a session that
// does not exist is not an error, so a second logout succeeds.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `DELETE FROM web_sessions WHERE token_hash = ?`, SessionTokenHash(token)); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions that expired at or before
// now and returns how many it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	result, err := s.exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= ?`, now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	count, err := result.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	return count, nil
}

// Audit appends e to the audit log. An entry without an action is
// ErrInvalidInput. An entry without a time gets the store's clock.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if e.Action == "" {
		return fmt.Errorf("append audit entry for %q: %w: empty action", e.User, ErrInvalidInput)
	}
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	_, err := s.exec(ctx, `INSERT INTO audit_log (at, user_name, role, source, action, target, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, at.UnixNano(), e.User, e.Role, e.Source, e.Action, e.Target, e.Detail)
	if err != nil {
		return fmt.Errorf("append audit entry %s for %q: %w", e.Action, e.User, err)
	}
	return nil
}

// ListAudit returns the newest limit entries of the audit log, newest
// first. A limit of zero or less means DefaultAuditLimit, and a limit over
// MaxAuditLimit is cut to it.
func (s *Store) ListAudit(ctx context.Context, limit int) ([]AuditEntry, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)

	rows, err := s.reader.QueryContext(ctx, s.dialect.bind(`SELECT at, user_name, role, source, action, target, detail
		FROM audit_log ORDER BY id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()

	list := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.User, &e.Role, &e.Source, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		e.At = unixNanoUTC(at)
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return list, nil
}
