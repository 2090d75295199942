package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PostgreSQL limits and names for tests.
const (
	// PostgresDatabase is the database StartPostgres creates for helpline.
	PostgresDatabase = "helpline"
	// PostgresUser is the superuser initdb creates.
	PostgresUser = "helpline"
	// RecordsDSNEnv is the environment variable that carries the records
	// DSN, the default of records.postgres.dsn_env.
	RecordsDSNEnv = "HELPLINE_RECORDS_DSN"

	// PostgresReadyMessage is what postgres logs once it accepts
	// connections.
	PostgresReadyMessage = "database system is ready to accept connections"

	postgresReadyTimeout = 60 * time.Second
	initdbTimeout        = 120 * time.Second
	psqlTimeout          = 30 * time.Second
	// postgresStopGrace is how long the fast shutdown (SIGINT) may take
	// before SIGKILL.
	postgresStopGrace = 20 * time.Second
	// postgresBinGlob finds the server programs of Debian's packages,
	// which are not on PATH.
	postgresBinGlob = "/usr/lib/postgresql/*/bin"
)

// Users that may own the database files when the tests run as root:
// initdb and postgres refuse to run as root. Debian's postgresql package
// creates the first; the second exists on every Debian system.
var postgresOwners = []string{"postgres", "nobody"}

// Postgres is a PostgreSQL server started by StartPostgres.
type Postgres struct {
	// Host and Port are where it listens (TCP on 127.0.0.1 only, no Unix
	// socket).
	Host string
	Port int
	// Password is PostgresUser's password.
	Password string
	// Dir holds the data folder; it is removed when the test ends.
	Dir string

	binDir string
	proc   *process
	lines  *eventLog[string]
	out    *lineWriter
}

// StartPostgres runs initdb in a new folder and postgres on a free port of
// 127.0.0.1 with password authentication, durability turned off for speed
// (fsync=off), and creates the database helpline. As root it runs both
// programs as the user postgres (or nobody) and hands the folder to that
// user. It fails or skips the test like RequireTool when PostgreSQL is not
// installed. t.Cleanup stops the server by its PID and removes the folder.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()

	p := &Postgres{
		Host:     Loopback,
		Port:     FreePort(t),
		Password: randomHex(t, 16),
		binDir:   postgresBinDir(t),
		lines:    newEventLog[string](),
	}
	credential := postgresCredential(t)
	p.makeDir(t, credential)
	p.initdb(t, credential)
	p.start(t, credential)
	p.waitReady(t)
	p.Exec(t, "postgres", "CREATE DATABASE "+PostgresDatabase)
	return p
}

// DSN returns the connection string of the helpline database, for
// HELPLINE_RECORDS_DSN.
func (p *Postgres) DSN() string {
	return p.dsnFor(PostgresDatabase)
}

// DSNEnv returns RecordsDSNEnv=DSN, an entry for ServerOptions.Env.
func (p *Postgres) DSNEnv() string {
	return RecordsDSNEnv + "=" + p.DSN()
}

func (p *Postgres) dsnFor(database string) string {
	dsn := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(PostgresUser, p.Password),
		Host:     net.JoinHostPort(p.Host, strconv.Itoa(p.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return dsn.String()
}

// Exec runs SQL with psql in database and returns its unaligned,
// tuples-only output (one row a line, columns split by |).
func (p *Postgres) Exec(t testing.TB, database, sql string) string {
	t.Helper()

	out, err := p.psql(database, sql)
	if err != nil {
		t.Fatalf("psql on %s: %v", database, err)
	}
	return out
}

func (p *Postgres) psql(database, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), psqlTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, filepath.Join(p.binDir, "psql"),
		"--no-psqlrc", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1",
		"--dbname", p.dsnFor(database), "--command", sql)
	cmd.WaitDelay = waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running %q: %w\nstderr:\n%s", sql, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Lines returns the server's output so far.
func (p *Postgres) Lines() []string {
	return p.lines.snapshot()
}

// postgresBinDir returns the folder of initdb, postgres and psql: the one
// of initdb on PATH, else the newest /usr/lib/postgresql/N/bin.
func postgresBinDir(t testing.TB) string {
	t.Helper()

	if path, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(path); err == nil {
			path = resolved
		}
		dir := filepath.Dir(path)
		if _, err := os.Stat(filepath.Join(dir, "psql")); err == nil {
			return dir
		}
	}

	dirs, _ := filepath.Glob(postgresBinGlob)
	sort.Slice(dirs, func(i, j int) bool { return postgresVersion(dirs[i]) < postgresVersion(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}

	message := "PostgreSQL is not installed (no initdb on PATH or in " + postgresBinGlob + "); run scripts/test.sh as root to install it"
	if Strict() {
		t.Fatalf("%s, and CI=true or HELPLINE_E2E=1 requires every end-to-end tool", message)
	}
	t.Skip(message)
	return ""
}

// postgresVersion returns N of /usr/lib/postgresql/N/bin, or 0.
func postgresVersion(binDir string) int {
	version, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return version
}

// postgresCredential returns the user to run initdb and postgres as when
// the tests run as root, or nil to run them as the current user.
func postgresCredential(t testing.TB) *syscall.Credential {
	t.Helper()

	if os.Geteuid() != 0 {
		return nil
	}
	for _, name := range postgresOwners {
		account, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, uidErr := strconv.ParseUint(account.Uid, 10, 32)
		gid, gidErr := strconv.ParseUint(account.Gid, 10, 32)
		if uidErr != nil || gidErr != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	t.Fatalf("running as root, and none of the users %v exists to own the PostgreSQL files", postgresOwners)
	return nil
}

// makeDir creates the server's folder in the system's temporary folder,
// because the test's own temporary folder is private to root.
func (p *Postgres) makeDir(t testing.TB, credential *syscall.Credential) {
	t.Helper()

	dir, err := os.MkdirTemp("", "helpline-postgres-")
	if err != nil {
		t.Fatalf("creating the PostgreSQL folder: %v", err)
	}
	p.Dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	if credential != nil {
		if err := os.Chown(dir, int(credential.Uid), int(credential.Gid)); err != nil {
			t.Fatalf("handing %s to uid %d: %v", dir, credential.Uid, err)
		}
	}
}

func (p *Postgres) initdb(t testing.TB, credential *syscall.Credential) {
	t.Helper()

	passwordFile := filepath.Join(p.Dir, "password")
	if err := os.WriteFile(passwordFile, []byte(p.Password+"\n"), 0o600); err != nil {
		t.Fatalf("writing the PostgreSQL password file: %v", err)
	}
	if credential != nil {
		if err := os.Chown(passwordFile, int(credential.Uid), int(credential.Gid)); err != nil {
			t.Fatalf("handing the password file to uid %d: %v", credential.Uid, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), initdbTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(p.binDir, "initdb"),
		"--pgdata", filepath.Join(p.Dir, "data"),
		"--username", PostgresUser,
		"--pwfile", passwordFile,
		"--auth-host", "scram-sha-256",
		"--auth-local", "scram-sha-256",
		"--encoding", "UTF8",
		"--no-locale",
		"--no-sync")
	cmd.Dir = p.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: credential}
	cmd.WaitDelay = waitDelay
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
}

func (p *Postgres) start(t testing.TB, credential *syscall.Credential) {
	t.Helper()

	p.out = &lineWriter{emit: p.lines.add}
	cmd := exec.Command(filepath.Join(p.binDir, "postgres"),
		"-D", filepath.Join(p.Dir, "data"),
		"-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses="+p.Host,
		"-c", "unix_socket_directories=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=100",
		"-c", "log_min_messages=warning",
	)
	cmd.Dir = p.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: credential}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	cmd.WaitDelay = waitDelay

	proc, err := startProcess("postgres", cmd)
	if err != nil {
		t.Fatalf("starting postgres: %v", err)
	}
	p.proc = proc

	logTailOnFailure(t, "postgres output", p.lines.snapshot)
	t.Cleanup(p.stop)
}

// waitReady waits for the ready log line and then for a query to succeed.
func (p *Postgres) waitReady(t testing.TB) {
	t.Helper()

	ready := func(line string) bool { return strings.Contains(line, PostgresReadyMessage) }
	if _, _, err := p.lines.wait(0, ready, postgresReadyTimeout, p.proc.exited); err != nil {
		t.Fatalf("waiting for postgres on port %d: %v", p.Port, err)
	}

	deadline := time.Now().Add(postgresReadyTimeout)
	for {
		_, err := p.psql("postgres", "SELECT 1")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres on port %d answers no query: %v", p.Port, err)
		}
		time.Sleep(redisPollInterval)
	}
}

// stop asks for a fast shutdown (SIGINT: roll back open transactions and
// close connections); SIGTERM would wait for every client to leave.
func (p *Postgres) stop() {
	children := p.proc.children()
	if _, killed := p.proc.stop(syscall.SIGINT, postgresStopGrace); killed {
		killOrphans(children, "postgres")
	}
	p.out.Close()
}

// randomHex returns n random bytes in hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()

	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		t.Fatalf("generating random bytes: %v", err)
	}
	return hex.EncodeToString(buf)
}
