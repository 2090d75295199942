package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/records"
)

// heldRecordsFolder is the fallback folder's name beside records.data_dir
// and in the system's temporary folder.
const heldRecordsFolder = "helpline-held-records"

// heldFolderHashBytes is how many bytes of the records location's hash
// name a server's fallback sub-folder in the temporary folder.
const heldFolderHashBytes = 8

// heldRecordsDirs lists the folders where a shutdown saves the writes the
// records spool still holds, in the order they are tried:
// records.spool.fallback_dir, or a folder beside records.data_dir, then
// one in the system's temporary folder. The second serves when the first
// sits on the same full or read-only disk as the records.
func heldRecordsDirs(cfg *config.Config) []string {
	first := cfg.Records.Spool.FallbackDir
	if first == "" {
		dataDir := cfg.Records.DataDir
		if absolute, err := filepath.Abs(dataDir); err == nil {
			dataDir = absolute
		}
		first = filepath.Join(filepath.Dir(dataDir), heldRecordsFolder)
	}
	// The temporary folder may serve several servers, so each records
	// store gets its own sub-folder there and never loads another's file.
	location := sha256.Sum256([]byte(absoluteRecordsLocation(cfg)))
	second := filepath.Join(os.TempDir(), heldRecordsFolder, hex.EncodeToString(location[:heldFolderHashBytes]))
	return []string{first, second}
}

// absoluteRecordsLocation is recordsLocation with an absolute SQLite path.
func absoluteRecordsLocation(cfg *config.Config) string {
	location := recordsLocation(cfg)
	if absolute, err := filepath.Abs(location); err == nil && cfg.Records.Driver != config.RecordsPostgres {
		return absolute
	}
	return location
}

// replayHeldRecords loads every fallback file a past shutdown left into
// store, oldest first, so that those calls have records before the open
// ones are marked interrupted. A file that fails stays for the next start
// or for `helpline records replay`.
func replayHeldRecords(ctx context.Context, cfg *config.Config, store *records.Store, log zerolog.Logger) {
	files, err := records.FindHeldFiles(heldRecordsDirs(cfg))
	if err != nil {
		log.Error().Err(err).Msg("looking for held call records saved at the last shutdown failed")
		return
	}
	for _, path := range files {
		result, err := records.ReplayHeldFile(ctx, store, path, log)
		if err != nil {
			log.Error().Err(err).Str("file", path).
				Msg("loading held call records saved at the last shutdown failed; the file stays, fix the cause and restart or run: helpline records replay " + path)
			continue
		}
		log.Warn().Str("file", path+records.ReplayedSuffix).Int("writes", result.Writes).Int("rejected", result.Rejected).Int("skipped_events", result.SkippedEvents).
			Msg("held call records saved at the last shutdown loaded into the records")
	}
}

// replayRecords runs `helpline records replay FILE`: it loads a fallback
// file of held call records into the records store.
func replayRecords(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("records replay", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	configPath := flags.String("config", "", "configuration file (YAML); empty uses the built-in example")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("%w: records replay: %w", errUsage, err)
	}
	if flags.NArg() != 1 {
		return fmt.Errorf("%w: records replay needs one file, the one the shutdown log named", errUsage)
	}
	path := flags.Arg(0)
	if strings.HasSuffix(path, records.ReplayedSuffix) {
		return fmt.Errorf("%w: records replay: %s ends in %s, so it was already loaded into the records and nothing is left to load",
			errUsage, path, records.ReplayedSuffix)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: records replay: held records file: %w", errUsage, err)
	}

	cfg, err := loadConfig(*configPath, config.ForRecordsOnly())
	if err != nil {
		return err
	}
	ctx, stop := context.WithTimeout(context.Background(), purgeTimeout)
	defer stop()
	store, err := openRecordsOfConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	log := zerolog.New(stderr).With().Timestamp().Str("component", "records_replay").Logger()
	result, err := records.ReplayHeldFile(ctx, store, path, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %d held writes from %s (%d rejected by the store, %d events skipped because the records already contained them); the file is now %s%s\n",
		result.Writes, path, result.Rejected, result.SkippedEvents, path, records.ReplayedSuffix)
	return nil
}
