package main

import (
	"context"
	"fmt"
	"os/user"
	"time"

	"helpline/records"
)

// auditReveal writes the audit entry of a command that prints callers'
// full numbers. The numbers are printed only after the entry is written,
// so that no reveal escapes the audit log.
func auditReveal(ctx context.Context, store *records.Store, command string, count int) error {
	err := store.Audit(ctx, records.AuditEntry{
		At:     time.Now(),
		User:   cliUser(),
		Role:   "cli",
		Source: "command line",
		Action: "reveal_number",
		Target: command,
		Detail: fmt.Sprintf("full numbers of %d entries", count),
	})
	if err != nil {
		return fmt.Errorf("writing the audit entry for --reveal failed, so no number is printed: %w", err)
	}
	return nil
}

// cliUser names the operating-system user running the command.
func cliUser() string {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return "unknown"
	}
	return u.Username
}
