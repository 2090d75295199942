package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/records"
)

// purgeTimeout bounds one purge run.
const purgeTimeout = 10 * time.Minute

// PurgeHook receives the result of every purge run that succeeded, with
// its cutoff, such as to write the records_purged audit entry.
type PurgeHook func(ctx context.Context, result records.PurgeResult, cutoff time.Time)

// purger is the part of the records store a purge run uses.
type purger interface {
	Purge(ctx context.Context, olderThan time.Time) (records.PurgeResult, error)
}

// purgeJob anonymizes the records of calls that ended more than days
// days ago.
type purgeJob struct {
	store purger
	days  int
	log   zerolog.Logger
	now   func() time.Time
	// hook is called after each successful run; nil calls nothing.
	hook PurgeHook
}

// runOnce purges once and logs one line with the counts.
func (j purgeJob) runOnce(ctx context.Context) (records.PurgeResult, time.Time, error) {
	cutoff := j.now().AddDate(0, 0, -j.days)
	result, err := j.store.Purge(ctx, cutoff)
	if err != nil {
		j.log.Error().Err(err).Int("retention_days", j.days).Time("cutoff", cutoff).Msg("records purge failed")
		return records.PurgeResult{}, cutoff, err
	}
	j.log.Info().Int("retention_days", j.days).Time("cutoff", cutoff).
		Int("calls", result.Calls).Int("wrap_ups", result.WrapUps).
		Int("followups", result.FollowUps).Int("callbacks", result.Callbacks).
		Msg("records purged")
	if j.hook != nil {
		j.hook(ctx, result, cutoff)
	}
	return result, cutoff, nil
}

// purgeActor is who a purge's audit entry names.
type purgeActor struct {
	User, Role, Source string
}

// Actors of the purge: the server's daily job, and the command run by an
// operating-system user.
var serverPurge = purgeActor{User: "server", Role: "server", Source: "daily job"}

func cliPurge() purgeActor {
	return purgeActor{User: cliUser(), Role: "cli", Source: "command line"}
}

// purgeAudit returns the hook that records each purge run by actor in the
// audit log. A failed audit write is logged, since the purge itself is
// done.
func purgeAudit(store *records.Store, actor purgeActor, log zerolog.Logger) PurgeHook {
	return func(ctx context.Context, result records.PurgeResult, cutoff time.Time) {
		err := store.Audit(ctx, records.AuditEntry{
			At:     time.Now(),
			User:   actor.User,
			Role:   actor.Role,
			Source: actor.Source,
			Action: "records_purged",
			Target: cutoff.UTC().Format(time.RFC3339),
			Detail: fmt.Sprintf("calls=%d wrap_ups=%d followups=%d callbacks=%d",
				result.Calls, result.WrapUps, result.FollowUps, result.Callbacks),
		})
		if err != nil {
			log.Error().Err(err).Msg("writing the records purge to the audit log failed")
		}
	}
}

// runDaily purges every day at hour:minute local time until ctx ends.
func (j purgeJob) runDaily(ctx context.Context, hour, minute int) {
	for {
		next := nextPurge(j.now(), hour, minute)
		j.log.Info().Time("next_run", next).Int("retention_days", j.days).Msg("records purge scheduled")
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		runCtx, stop := context.WithTimeout(ctx, purgeTimeout)
		_, _, _ = j.runOnce(runCtx)
		stop()
	}
}

// nextPurge returns the first hour:minute in now's location after now.
func nextPurge(now time.Time, hour, minute int) time.Time {
	next := time.Date(now.Year(), now.Month(), now.Day(), hour, minute, 0, 0, now.Location())
	if !next.After(now) {
		next = time.Date(now.Year(), now.Month(), now.Day()+1, hour, minute, 0, 0, now.Location())
	}
	return next
}

// startPurgeJob starts the daily purge when records.retention_days is
// above 0, and returns the function that stops it and waits. The purge is
// idempotent, so in shared mode every node runs it: the first run of the
// day anonymizes, and the others find nothing left.
func (a *app) startPurgeJob() func() {
	if a.cfg.Records.RetentionDays <= 0 {
		a.log.Info().Msg("records kept forever: set records.retention_days to purge old callers' numbers and notes")
		return func() {}
	}
	log := a.log.With().Str("component", "purge").Logger()
	job := purgeJob{
		store: a.records, days: a.cfg.Records.RetentionDays, now: time.Now, hook: purgeAudit(a.records, serverPurge, log),
		log: log,
	}
	hour, minute := a.cfg.Records.PurgeClock()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		job.runDaily(ctx, hour, minute)
	}()
	return func() {
		cancel()
		<-done
	}
}

// purgeRecords runs `helpline records purge`: it anonymizes the records of
// calls that ended more than --older-than-days (or records.retention_days)
// days ago and prints the counts.
func purgeRecords(args []string, stdout io.Writer, stderr io.Writer) error {
	flags := flag.NewFlagSet("records purge", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	configPath := flags.String("config", "", "configuration file (YAML); empty uses the built-in example")
	olderThan := flags.Int("older-than-days", 0, "anonymize calls that ended more than this many days ago; default records.retention_days")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("%w: records purge: %w", errUsage, err)
	}
	daysSet := false
	flags.Visit(func(f *flag.Flag) { daysSet = daysSet || f.Name == "older-than-days" })
	if daysSet && *olderThan < 1 {
		return fmt.Errorf("%w: --older-than-days %d: use a number of days of at least 1", errUsage, *olderThan)
	}

	cfg, err := loadConfig(*configPath, config.ForRecordsOnly())
	if err != nil {
		return err
	}
	days := cfg.Records.RetentionDays
	if daysSet {
		days = *olderThan
	}
	if days == 0 {
		return fmt.Errorf("%w: nothing to purge: records.retention_days is 0, which keeps records forever; pass --older-than-days N or set records.retention_days", errUsage)
	}

	ctx, stop := context.WithTimeout(context.Background(), purgeTimeout)
	defer stop()
	store, err := openRecordsOfConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	log := zerolog.New(stderr).With().Timestamp().Str("component", "purge").Logger()
	job := purgeJob{store: store, days: days, log: log, now: time.Now, hook: purgeAudit(store, cliPurge(), log)}
	result, cutoff, err := job.runOnce(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "anonymized the records of calls that ended before %s: %d calls, %d wrap-ups, %d follow-ups, %d callbacks\n",
		cutoff.Format(time.RFC3339), result.Calls, result.WrapUps, result.FollowUps, result.Callbacks)
	return nil
}
