package records

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func testSession(created time.Time) Session {
	return Session{User: "kim", Role: "counselor", Counselor: "1001", CSRF: "csrf-1",
		CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
}

func TestSessionRoundTrip(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		in := testSession(testTime(0))
		if err := store.CreateSession(ctx, "token-a", in); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}

		got, err := store.GetSession(ctx, "token-a")
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		if got.User != in.User || got.Role != in.Role || got.Counselor != in.Counselor || got.CSRF != in.CSRF {
			t.Errorf("GetSession = %+v, want %+v", got, in)
		}
		if !got.CreatedAt.Equal(in.CreatedAt) || !got.ExpiresAt.Equal(in.ExpiresAt) || got.ExpiresAt.Location() != time.UTC {
			t.Errorf("times = %v..%v, want %v..%v in UTC", got.CreatedAt, got.ExpiresAt, in.CreatedAt, in.ExpiresAt)
		}

		if _, err := store.GetSession(ctx, "token-b"); !errors.Is(err, ErrSessionNotFound) {
			t.Errorf("GetSession(other token) = %v, want ErrSessionNotFound", err)
		}
		if err := store.DeleteSession(ctx, "token-a"); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		if _, err := store.GetSession(ctx, "token-a"); !errors.Is(err, ErrSessionNotFound) {
			t.Errorf("GetSession after delete = %v, want ErrSessionNotFound", err)
		}
		if err := store.DeleteSession(ctx, "token-a"); err != nil {
			t.Errorf("second DeleteSession = %v, want nil", err)
		}
	})
}

func TestSessionStoresOnlyTokenHash(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		if err := store.CreateSession(context.Background(), "secret-token", testSession(testTime(0))); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		var stored string
		if err := db.raw(t).QueryRow(`SELECT token_hash FROM web_sessions`).Scan(&stored); err != nil {
			t.Fatalf("reading web_sessions: %v", err)
		}
		if stored == "secret-token" || stored != SessionTokenHash("secret-token") || len(stored) != 64 {
			t.Errorf("stored token_hash = %q, want the hex SHA-256 of the token", stored)
		}
	})
}

func TestCreateSessionRejectsBadInput(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		good := testSession(testTime(0))
		tests := []struct {
			name    string
			token   string
			session func() Session
		}{
			{"empty token", "", func() Session { return good }},
			{"empty user", "t", func() Session { s := good; s.User = ""; return s }},
			{"empty role", "t", func() Session { s := good; s.Role = ""; return s }},
			{"empty csrf", "t", func() Session { s := good; s.CSRF = ""; return s }},
			{"no lifetime", "t", func() Session { s := good; s.ExpiresAt = s.CreatedAt; return s }},
		}
		for _, tt := range tests {
			if err := store.CreateSession(ctx, tt.token, tt.session()); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("%s: CreateSession = %v, want ErrInvalidInput", tt.name, err)
			}
		}
		if err := store.CreateSession(ctx, "dup", good); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if err := store.CreateSession(ctx, "dup", good); err == nil {
			t.Error("CreateSession with a token already stored = nil, want an error")
		}
	})
}

func TestDeleteExpiredSessions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		for i, created := range []time.Duration{0, 30 * time.Minute, 2 * time.Hour} {
			if err := store.CreateSession(ctx, fmt.Sprint("token-", i), testSession(testTime(created))); err != nil {
				t.Fatalf("CreateSession %d: %v", i, err)
			}
		}
		// Sessions last an hour: at 1h the first ends, the others run on.
		removed, err := store.DeleteExpiredSessions(ctx, testTime(time.Hour))
		if err != nil {
			t.Fatalf("DeleteExpiredSessions: %v", err)
		}
		if removed != 1 {
			t.Errorf("removed %d sessions, want 1", removed)
		}
		if _, err := store.GetSession(ctx, "token-0"); !errors.Is(err, ErrSessionNotFound) {
			t.Errorf("expired session: GetSession = %v, want ErrSessionNotFound", err)
		}
		for _, token := range []string{"token-1", "token-2"} {
			if _, err := store.GetSession(ctx, token); err != nil {
				t.Errorf("live session %s: GetSession = %v", token, err)
			}
		}
	})
}

func TestAuditNewestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1), fixedClock(testTime(time.Hour)))
		ctx := context.Background()
		entries := []AuditEntry{
			{At: testTime(0), User: "kim", Role: "counselor", Source: "127.0.0.1", Action: "login"},
			{At: testTime(time.Minute), User: "nobody", Source: "127.0.0.1", Action: "login_failed", Detail: "unknown user"},
			{User: "choi", Role: "followup", Source: "::1", Action: "reveal_number", Target: "task-1"},
		}
		for _, e := range entries {
			if err := store.Audit(ctx, e); err != nil {
				t.Fatalf("Audit(%s): %v", e.Action, err)
			}
		}

		got, err := store.ListAudit(ctx, 0)
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		if len(got) != 3 {
			t.Fatalf("ListAudit returned %d entries, want 3", len(got))
		}
		if got[0].Action != "reveal_number" || got[0].Target != "task-1" || got[0].User != "choi" || got[0].Source != "::1" {
			t.Errorf("newest entry = %+v, want the reveal_number of choi", got[0])
		}
		if !got[0].At.Equal(testTime(time.Hour)) {
			t.Errorf("entry without a time: At = %v, want the store clock %v", got[0].At, testTime(time.Hour))
		}
		if got[2].Action != "login" || !got[2].At.Equal(testTime(0)) {
			t.Errorf("oldest entry = %+v, want the login at %v", got[2], testTime(0))
		}
		if got[1].Detail != "unknown user" {
			t.Errorf("detail = %q, want %q", got[1].Detail, "unknown user")
		}

		limited, err := store.ListAudit(ctx, 2)
		if err != nil {
			t.Fatalf("ListAudit(2): %v", err)
		}
		if len(limited) != 2 || limited[1].Action != "login_failed" {
			t.Errorf("ListAudit(2) = %+v, want the two newest entries", limited)
		}
	})
}

func TestAuditRejectsEmptyAction(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		err := store.Audit(context.Background(), AuditEntry{User: "kim"})
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Audit(no action) = %v, want ErrInvalidInput", err)
		}
		list, err := store.ListAudit(context.Background(), 10)
		if err != nil || len(list) != 0 {
			t.Errorf("ListAudit = %v, %v; want nothing saved", list, err)
		}
	})
}

func TestAccessMethodsAfterClose(t *testing.T) {
	store := openStore(t, tempDBPath(t), testKey(t, 1))
	if err := store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	checks := map[string]error{
		"CreateSession": store.CreateSession(ctx, "t", testSession(testTime(0))),
		"DeleteSession": store.DeleteSession(ctx, "t"),
		"Audit":         store.Audit(ctx, AuditEntry{Action: "login"}),
	}
	_, checks["GetSession"] = store.GetSession(ctx, "t")
	_, checks["DeleteExpiredSessions"] = store.DeleteExpiredSessions(ctx, testTime(0))
	_, checks["ListAudit"] = store.ListAudit(ctx, 1)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}
