// Command helpline is the SIP server of the Goodbye Loneliness 120 line
// (외로움안녕120): it answers calls from the 120 trunk, runs the IVR, queues
// callers to counselors' softphones, and keeps a record of every call.
//
// Usage:
//
//	helpline serve [--config PATH]
//	helpline records export [--config PATH] [--since TIME] [--format jsonl|csv] [--reveal]
//	helpline records events [--config PATH] [--since TIME] [--format text|jsonl]
//	helpline records callbacks [--config PATH] [--reveal]
//	helpline web hash-password
//	helpline records purge [--config PATH] [--older-than-days N]
//	helpline records replay [--config PATH] FILE
//
// Exit status: 0 on success, 1 when the server fails while running, 2 for
// bad usage or a bad configuration.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// errUsage marks errors in the command line.
var errUsage = errors.New("usage")

const usageText = `helpline: SIP server of the Goodbye Loneliness 120 line (외로움안녕120)

Usage:
  helpline serve [--config PATH]
      Run the server. Without --config it runs the built-in example
      configuration (config/helpline.example.yaml).
  helpline records export [--config PATH] [--since TIME] [--format jsonl|csv] [--reveal]
      Print call records. Callers' numbers are masked unless --reveal.
  helpline records events [--config PATH] [--since TIME] [--format text|jsonl]
      Print the event log (caller entered, offered, connected, abandoned,
      call ended, counselor state...), oldest first. TIME is RFC 3339 or a
      duration back from now, such as 1h.
  helpline records callbacks [--config PATH] [--reveal]
      Print callback tasks and their attempts as JSON lines. Numbers are
      masked unless --reveal.
  helpline web hash-password
      Print the argon2id hash of a new password (at least 10 characters)
      for web.users[].password_hash. On a terminal it asks twice without
      echoing; otherwise it reads one line from standard input.
  helpline records purge [--config PATH] [--older-than-days N]
      Anonymize the calls that ended more than N days ago (default
      records.retention_days): callers' numbers and counselors' notes are
      removed, counts and times stay. Prints the counts.
  helpline records replay [--config PATH] FILE
      Load the call records and events that a shutdown during a records
      outage saved to FILE (the shutdown log names it). The server does
      this itself at start-up; use the command when that failed.

Environment: HELPLINE_<SECTION>_<KEY> overrides a config key, for example
HELPLINE_QUEUE_RING_TIMEOUT=20s. HELPLINE_RECORDS_KEY holds the records key;
in shared mode HELPLINE_RECORDS_DSN holds the PostgreSQL connection string.
`

func main() {
	os.Exit(runWithInput(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a subcommand without standard input and returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	return runWithInput(args, strings.NewReader(""), stdout, stderr)
}

// runWithInput dispatches a subcommand and returns the exit status.
func runWithInput(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}

	var err error
	switch {
	case args[0] == "serve":
		err = serve(args[1:], stderr)
	case args[0] == "records" && len(args) > 1 && args[1] == "export":
		err = exportRecords(args[2:], stdout)
	case args[0] == "records" && len(args) > 1 && args[1] == "events":
		err = listEvents(args[2:], stdout)
	case args[0] == "records" && len(args) > 1 && args[1] == "callbacks":
		err = exportCallbacks(args[2:], stdout)
	case args[0] == "records" && len(args) > 1 && args[1] == "purge":
		err = purgeRecords(args[2:], stdout, stderr)
	case args[0] == "records" && len(args) > 1 && args[1] == "replay":
		err = replayRecords(args[2:], stdout, stderr)
	case args[0] == "records" && len(args) > 1 && (args[1] == "-h" || args[1] == "--help" || args[1] == "help"):
		fmt.Fprint(stdout, usageText)
		return exitOK
	case args[0] == "records":
		err = fmt.Errorf("%w: records needs a subcommand: export, events, callbacks, purge or replay", errUsage)
	case args[0] == "web" && len(args) > 1 && args[1] == "hash-password":
		err = hashPassword(args[2:], stdin, stdout, stderr)
	case args[0] == "web":
		err = fmt.Errorf("%w: web needs a subcommand: hash-password", errUsage)
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	return exitStatus(err, stderr)
}

// usageHint follows a usage error, in place of the whole usage text that
// would push the error off the screen.
const usageHint = "Run 'helpline --help' to see the commands and their flags."

// exitStatus prints err and maps it to an exit status.
func exitStatus(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage), errors.Is(err, errConfig):
		fmt.Fprintf(stderr, "helpline: %v\n", err)
		if errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, usageHint)
		}
		return exitUsage
	default:
		fmt.Fprintf(stderr, "helpline: %v\n", err)
		return exitFailure
	}
}
