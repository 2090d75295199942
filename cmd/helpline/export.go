package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"helpline/config"
	"helpline/records"
)

// exportRecords prints call records for the follow-up team.
func exportRecords(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("records export", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	configPath := flags.String("config", "", "configuration file (YAML); empty uses the built-in example")
	since := flags.String("since", "", "only calls started at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00+09:00, or a duration such as 24h)")
	format := flags.String("format", "jsonl", "output format: jsonl or csv")
	reveal := flags.Bool("reveal", false, "print callers' full numbers instead of masked ones")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("%w: records export: %w", errUsage, err)
	}
	if *format != "jsonl" && *format != "csv" {
		return fmt.Errorf("%w: --format %q is not supported: use jsonl or csv", errUsage, *format)
	}
	sinceTime, err := parseSince(*since, time.Now())
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}

	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	store, err := openRecordsForReading(ctx, *configPath)
	if err != nil {
		return err
	}
	defer store.Close()

	recs, err := store.List(ctx, records.ListOptions{Since: sinceTime})
	if err != nil {
		return fmt.Errorf("reading records: %w", err)
	}
	if *reveal {
		if err := auditReveal(ctx, store, "records export", len(recs)); err != nil {
			return err
		}
	}
	return records.Export(stdout, recs, *format, *reveal)
}

// openRecordsForReading opens the records database of the configuration
// at configPath for a command that reads it beside a running server.
func openRecordsForReading(ctx context.Context, configPath string) (*records.Store, error) {
	cfg, err := loadConfig(configPath, config.ForRecordsOnly())
	if err != nil {
		return nil, err
	}
	return openRecordsOfConfig(ctx, cfg)
}

// openRecordsOfConfig loads the records key of cfg and opens its existing
// records database, for a command run beside a server.
func openRecordsOfConfig(ctx context.Context, cfg *config.Config) (*records.Store, error) {
	key, _, err := records.LoadKey(records.KeySource{
		Env:       cfg.Records.KeyEnv,
		File:      cfg.Records.KeyFile,
		AllowDemo: cfg.Records.AllowDemoKey,
	}, os.Environ())
	if err != nil {
		return nil, fmt.Errorf("%w: records key: %w", errConfig, err)
	}

	return openRecordsStore(ctx, cfg, key, true)
}

// parseSince reads --since as an RFC 3339 time or a duration back from now.
func parseSince(value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, value); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(value); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither an RFC 3339 time (2026-12-01T00:00:00+09:00) nor a duration (24h)", value)
}
