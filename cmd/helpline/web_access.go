package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/events"
	"helpline/records"
	"helpline/web"
	"helpline/web/password"
)

// sessionSweepInterval is how often expired web sessions are removed.
const sessionSweepInterval = 10 * time.Minute

// sessionSweepTimeout bounds one sweep.
const sessionSweepTimeout = 30 * time.Second

// The records store keeps the sessions and the audit log.
var (
	_ web.SessionStore = (*records.Store)(nil)
	_ web.Auditor      = (*records.Store)(nil)
	_ web.AuditLister  = (*records.Store)(nil)
)

// accessOptions turns on logins for the configured web users, with the
// records store as session store and audit log.
func accessOptions(cfg *config.Config, store *records.Store, bus events.Publisher) []web.Option {
	users := make([]web.User, 0, len(cfg.Web.Users))
	for _, u := range cfg.Web.Users {
		users = append(users, web.User{Name: u.Name, Role: web.Role(u.Role), Counselor: u.Counselor, PasswordHash: u.PasswordHash})
	}
	return []web.Option{
		web.WithAuditor(store),
		web.WithLogin(web.LoginConfig{
			Users:      users,
			Sessions:   store,
			SessionTTL: cfg.Web.SessionTTL,
			Lockout:    web.Lockout{Attempts: cfg.Web.Lockout.Attempts, Window: cfg.Web.Lockout.Window, Duration: cfg.Web.Lockout.Duration},
			Events:     bus,
		}),
	}
}

// sweepSessions removes expired sessions every interval until ctx ends.
// Expired sessions are rejected anyway, so the sweep only keeps the table
// small.
func sweepSessions(ctx context.Context, store web.SessionStore, interval time.Duration, log zerolog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		sweepCtx, cancel := context.WithTimeout(ctx, sessionSweepTimeout)
		removed, err := store.DeleteExpiredSessions(sweepCtx, time.Now())
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn().Err(err).Msg("removing expired web sessions failed: will retry")
		case removed > 0:
			log.Debug().Int64("sessions", removed).Msg("expired web sessions removed")
		}
	}
}

// warnAboutDemoUsers logs the web users whose password is a published
// demo password.
func warnAboutDemoUsers(cfg *config.Config, log zerolog.Logger) {
	if names := cfg.DemoUsersInUse(); len(names) > 0 {
		log.Warn().Strs("users", names).Msg("demo web users with published passwords can log in: set real password hashes (helpline web hash-password) and web.allow_demo_users: false before taking real calls")
	}
}

// hashPassword reads one password line from stdin and prints its argon2id
// hash, for web.users[].password_hash.
func hashPassword(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: web hash-password takes no arguments: type the password on standard input", errUsage)
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, password.MaxLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the password from standard input: %w", err)
	}
	if !strings.HasSuffix(line, "\n") && len(line) > password.MaxLength {
		return fmt.Errorf("%w: the password is longer than %d bytes: use a shorter one", errUsage, password.MaxLength)
	}
	secret := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if secret == "" {
		return fmt.Errorf("%w: no password on standard input: type it and press Enter, or pipe it in", errUsage)
	}
	hash, err := password.Hash(secret)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	_, err = fmt.Fprintln(stdout, hash)
	return err
}
