package main

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"golang.org/x/term"

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
			Lockout: web.Lockout{Attempts: cfg.Web.Lockout.Attempts, SourceAttempts: cfg.Web.Lockout.SourceAttempts,
				Window: cfg.Web.Lockout.Window, Duration: cfg.Web.Lockout.Duration},
			Events: bus,
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

// minPasswordLength is the fewest characters a new web password may
// have. Logins lock after a few failures, so 10 characters resist online
// guessing; the argon2id hash slows offline guessing.
const minPasswordLength = 10

// hashPassword reads a new password and prints its argon2id hash, for
// web.users[].password_hash. On a terminal it prompts on stderr and reads
// the password twice without echo; otherwise it reads one line, for
// scripts.
func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: web hash-password takes no arguments: type the password when asked, or pipe it in", errUsage)
	}
	var secret string
	var err error
	if tty, ok := terminalOf(stdin); ok {
		secret, err = promptPassword(tty, stderr)
	} else {
		secret, err = readPasswordLine(stdin)
	}
	if err != nil {
		return err
	}
	if err := checkNewPassword(secret); err != nil {
		return err
	}

	hash, err := password.Hash(secret)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	_, err = fmt.Fprintln(stdout, hash)
	return err
}

// terminal reads a line that the user types without showing it.
type terminal interface {
	ReadSecret() ([]byte, error)
}

// fileTerminal is a terminal on a file descriptor, such as standard input.
type fileTerminal struct{ fd int }

func (t fileTerminal) ReadSecret() ([]byte, error) { return term.ReadPassword(t.fd) }

// terminalOf returns the terminal behind stdin, if it is one.
func terminalOf(stdin io.Reader) (terminal, bool) {
	if tty, ok := stdin.(terminal); ok {
		return tty, true
	}
	file, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return nil, false
	}
	return fileTerminal{fd: int(file.Fd())}, true
}

// promptPassword prompts for the password twice on tty, with the prompts on
// stderr, and returns it when both entries match.
func promptPassword(tty terminal, stderr io.Writer) (string, error) {
	fmt.Fprintf(stderr, "New web password (at least %d characters): ", minPasswordLength)
	first, err := tty.ReadSecret()
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password from the terminal: %w", err)
	}
	if err := checkNewPassword(string(first)); err != nil {
		return "", err
	}

	fmt.Fprint(stderr, "Type it again: ")
	second, err := tty.ReadSecret()
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password from the terminal: %w", err)
	}
	if subtle.ConstantTimeCompare(first, second) != 1 {
		return "", fmt.Errorf("%w: the two passwords differ: run the command again and type the same password twice", errUsage)
	}
	return string(first), nil
}

// readPasswordLine reads one line from a pipe or file.
func readPasswordLine(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, password.MaxLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	if !strings.HasSuffix(line, "\n") && len(line) > password.MaxLength {
		return "", fmt.Errorf("%w: the password is longer than %d bytes: use a shorter one", errUsage, password.MaxLength)
	}
	secret := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if secret == "" {
		return "", fmt.Errorf("%w: no password on standard input: pipe one line in, or run the command on a terminal to be asked", errUsage)
	}
	return secret, nil
}

// checkNewPassword rejects a password that is empty, too short or too
// long.
func checkNewPassword(secret string) error {
	switch length := utf8.RuneCountInString(secret); {
	case secret == "":
		return fmt.Errorf("%w: the password is empty: type one of at least %d characters", errUsage, minPasswordLength)
	case length < minPasswordLength:
		return fmt.Errorf("%w: the password has %d characters: use at least %d, such as a phrase of a few words", errUsage, length, minPasswordLength)
	case len(secret) > password.MaxLength:
		return fmt.Errorf("%w: the password is longer than %d bytes: use a shorter one", errUsage, password.MaxLength)
	}
	return nil
}
