// Command fakehelpline replaces the helpline binary in the tests of the e2e
// harness itself, so that the harness can be checked without the real
// server. It follows the same command-line contract:
//
//	fakehelpline serve --config PATH
//	fakehelpline records export --config PATH --format jsonl [--since T] [--reveal]
//
// serve reads the sip.listen and records sections of the configuration and
// checks the records key in the configured environment variable. It binds
// every listener and logs "helpline ready" as a zerolog JSON line. Then it
// writes one record per UDP datagram, keyed by its Call-ID header, to
// records.jsonl in data_dir. SIGTERM ends it with exit code 0. It speaks
// no SIP (RFC 3261): it only reads the Call-ID line of a datagram.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"
)

// recordsFile is the file in data_dir that serve appends to and export reads.
const recordsFile = "records.jsonl"

// keyBytes is the required length of the decoded records key.
const keyBytes = 32

// maxDatagram is the largest UDP datagram read.
const maxDatagram = 65535

// fakeCallerNumber is the caller number written into every record.
const fakeCallerNumber = "01012345678"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// errUsage means the command line does not match the contract.
var errUsage = errors.New("usage: fakehelpline serve --config PATH | records export --config PATH --format jsonl [--since RFC3339] [--reveal]")

var callIDLine = regexp.MustCompile(`(?mi)^(?:Call-ID|i):\s*(\S+)`)

type config struct {
	SIP struct {
		Listen []struct {
			Network string `yaml:"network"`
			Address string `yaml:"address"`
		} `yaml:"listen"`
	} `yaml:"sip"`
	Records struct {
		DataDir string `yaml:"data_dir"`
		KeyEnv  string `yaml:"key_env"`
	} `yaml:"records"`
}

type record struct {
	CallID       string `json:"call_id"`
	Outcome      string `json:"outcome"`
	CallerNumber string `json:"caller_number"`
	StartedAt    string `json:"started_at"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) >= 1 && args[0] == "serve":
		err = serve(args[1:], stderr)
	case len(args) >= 2 && args[0] == "records" && args[1] == "export":
		err = export(args[2:], stdout)
	default:
		err = errUsage
	}

	if errors.Is(err, errUsage) {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, "fakehelpline:", err)
		return exitError
	}
	return exitOK
}

func loadConfig(path string) (config, error) {
	var cfg config
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("reading the configuration: %w", err)
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("parsing %s: %w", path, err)
	}
	return cfg, nil
}

func serve(args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "configuration file")
	if err := flags.Parse(args); err != nil || *configPath == "" {
		return errUsage
	}

	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	if err := checkKey(cfg.Records.KeyEnv); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Records.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data_dir: %w", err)
	}

	logger := zerolog.New(stderr).With().Timestamp().Logger()
	closers, packets, err := listen(cfg)
	if err != nil {
		return err
	}
	defer closeAll(closers)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	for _, packet := range packets {
		go receive(packet, filepath.Join(cfg.Records.DataDir, recordsFile), logger)
	}
	logger.Info().Int("listeners", len(closers)).Msg("helpline ready")

	sig := <-stop
	logger.Info().Str("signal", sig.String()).Msg("shutting down")
	return nil
}

func checkKey(env string) error {
	key, err := base64.StdEncoding.DecodeString(os.Getenv(env))
	if err != nil {
		return fmt.Errorf("decoding the records key in %s: %w", env, err)
	}
	if len(key) != keyBytes {
		return fmt.Errorf("records key in %s has %d bytes, want %d", env, len(key), keyBytes)
	}
	return nil
}

func listen(cfg config) ([]io.Closer, []net.PacketConn, error) {
	var closers []io.Closer
	var packets []net.PacketConn
	for _, listener := range cfg.SIP.Listen {
		switch listener.Network {
		case "udp":
			conn, err := net.ListenPacket("udp", listener.Address)
			if err != nil {
				closeAll(closers)
				return nil, nil, fmt.Errorf("listening on udp %s: %w", listener.Address, err)
			}
			closers = append(closers, conn)
			packets = append(packets, conn)
		case "tcp":
			ln, err := net.Listen("tcp", listener.Address)
			if err != nil {
				closeAll(closers)
				return nil, nil, fmt.Errorf("listening on tcp %s: %w", listener.Address, err)
			}
			closers = append(closers, ln)
		default:
			closeAll(closers)
			return nil, nil, fmt.Errorf("unknown network %q in sip.listen", listener.Network)
		}
	}
	return closers, packets, nil
}

func closeAll(closers []io.Closer) {
	for _, closer := range closers {
		closer.Close()
	}
}

func receive(conn net.PacketConn, recordsPath string, logger zerolog.Logger) {
	buf := make([]byte, maxDatagram)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}

		callID := "unknown"
		if match := callIDLine.FindSubmatch(buf[:n]); match != nil {
			callID = string(match[1])
		}
		if err := appendRecord(recordsPath, callID); err != nil {
			logger.Error().Err(err).Str("call_id", callID).Msg("writing record failed")
			continue
		}
		logger.Info().Str("call_id", callID).Int("bytes", n).Msg("sip datagram received")
	}
}

func appendRecord(path, callID string) error {
	line, err := json.Marshal(record{
		CallID:       callID,
		Outcome:      "fake",
		CallerNumber: fakeCallerNumber,
		StartedAt:    time.Now().UTC().Format(time.RFC3339),
	})
	if err != nil {
		return fmt.Errorf("encoding the record: %w", err)
	}

	file, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	if _, err := file.Write(append(line, '\n')); err != nil {
		file.Close()
		return fmt.Errorf("appending to %s: %w", path, err)
	}
	return file.Close()
}

func export(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("export", flag.ContinueOnError)
	configPath := flags.String("config", "", "configuration file")
	format := flags.String("format", "", "output format")
	flags.String("since", "", "ignored")
	reveal := flags.Bool("reveal", false, "print caller numbers unmasked")
	if err := flags.Parse(args); err != nil || *configPath == "" || *format != "jsonl" {
		return errUsage
	}

	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(cfg.Records.DataDir, recordsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading records: %w", err)
	}

	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		var rec record
		if err := json.Unmarshal(scanner.Bytes(), &rec); err != nil {
			return fmt.Errorf("decoding a record: %w", err)
		}
		if !*reveal {
			rec.CallerNumber = mask(rec.CallerNumber)
		}
		line, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encoding a record: %w", err)
		}
		fmt.Fprintln(stdout, string(line))
	}
	return scanner.Err()
}

// mask keeps the first three and last two digits of a number.
func mask(number string) string {
	const keepStart, keepEnd = 3, 2
	if len(number) <= keepStart+keepEnd {
		return strings.Repeat("*", len(number))
	}
	return number[:keepStart] + strings.Repeat("*", len(number)-keepStart-keepEnd) + number[len(number)-keepEnd:]
}
