// Package pgtest starts a real PostgreSQL server on a free loopback port for
// tests and hands each test a fresh database on it.
//
// A package that calls Main from its TestMain shares one server among all
// its tests, started by the first NewDatabase and stopped when the tests
// end. Without Main, NewDatabase starts a server for the test and stops it
// in t.Cleanup. Either way each NewDatabase creates its own database, so
// tests never see each other's rows.
//
// The server runs from initdb and postgres binaries found on PATH or under
// /usr/lib/postgresql/<version>/bin (Debian's postgresql package), version
// 13 or newer because dropping a database uses WITH (FORCE). Both
// refuse to run as root, so when the tests run as root the server runs as
// the user nobody, in a data folder that user owns. Under CI=true missing
// binaries fail the test; elsewhere the test is skipped with a note on how
// to install them.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	// Registers pgx's database/sql driver as "pgx".
	_ "github.com/jackc/pgx/v5/stdlib"
)

const (
	// readyTimeout bounds how long a server may take to accept connections.
	readyTimeout = 30 * time.Second
	// stopTimeout bounds a fast shutdown before the server is killed.
	stopTimeout = 30 * time.Second
	// startAttempts is how often a start picks another port when the chosen
	// one was taken between the check and the server's bind.
	startAttempts = 5
	// readyPoll is the pause between two connection attempts while the
	// server starts.
	readyPoll = 50 * time.Millisecond
	// superuser is the role initdb creates, trusted without a password on
	// loopback.
	superuser = "postgres"
	// unprivilegedUser runs the server when the tests run as root.
	unprivilegedUser = "nobody"
	// maxIdentifier is PostgreSQL's maximum identifier length in bytes.
	maxIdentifier = 63
)

// serverSettings make a throwaway server fast: nothing is synced to disk,
// which loses data only when the machine crashes.
var serverSettings = []string{
	"listen_addresses=127.0.0.1",
	"unix_socket_directories=",
	"fsync=off",
	"synchronous_commit=off",
	"full_page_writes=off",
	"max_connections=200",
}

// Server is one running PostgreSQL server.
type Server struct {
	// Host and Port are the loopback address the server listens on.
	Host string
	Port int

	// dir is the server's folder: the data folder and the log.
	dir   string
	cmd   *exec.Cmd
	admin *sql.DB
	// exited is closed when the server process has ended.
	exited   chan struct{}
	stopOnce sync.Once
}

// shared is the server of a package whose TestMain calls Main.
var shared struct {
	enabled bool
	once    sync.Once
	server  *Server
	err     error
}

// databaseCount numbers the databases NewDatabase creates.
var databaseCount atomic.Int64

// Main runs the package's tests with one server shared among them, and
// stops that server when they end. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	shared.enabled = true
	code := m.Run()
	if shared.server != nil {
		if err := shared.server.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	return code
}

// NewDatabase creates an empty database for t and returns its connection
// string. The database is on the package's shared server when the
// package's TestMain calls Main, else on a server of its own for t. It is
// dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if !shared.enabled {
		return Start(t).NewDatabase(t)
	}

	binDir := BinDir(t)
	shared.once.Do(func() { shared.server, shared.err = start(binDir) })
	if shared.err != nil {
		t.Fatalf("start the shared PostgreSQL server: %v", shared.err)
	}
	return shared.server.NewDatabase(t)
}

// Start runs a PostgreSQL server for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	srv, err := start(BinDir(t))
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	return srv
}

// BinDir returns the folder holding initdb and postgres, or fails or skips
// t when there is none.
func BinDir(t testing.TB) string {
	t.Helper()
	dir, err := findBinDir()
	if err == nil {
		return dir
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is not installed (%v): run scripts/test.sh, which installs the Debian package postgresql", err)
	}
	t.Skipf("PostgreSQL is not installed (%v): apt-get install postgresql; skipping", err)
	return ""
}

// findBinDir looks for initdb on PATH, then under /usr/lib/postgresql,
// newest version first, and returns its folder when postgres sits beside
// it.
func findBinDir() (string, error) {
	var candidates []string
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(initdb); err == nil {
			candidates = append(candidates, filepath.Dir(resolved))
		}
		candidates = append(candidates, filepath.Dir(initdb))
	}
	candidates = append(candidates, debianBinDirs()...)

	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errors.New("no initdb with postgres beside it on PATH or under /usr/lib/postgresql/*/bin")
}

// debianBinDirs lists /usr/lib/postgresql/<version>/bin, highest version
// first.
func debianBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return n
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	return dirs
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode().Perm()&0o111 != 0
}

// start initialises a data folder and runs a server on it.
func start(binDir string) (*Server, error) {
	dir, owner, err := makeFolders()
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	if err := initDB(binDir, dataDir, owner); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}

	var lastErr error
	for range startAttempts {
		srv, err := run(binDir, dir, owner)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, errors.Join(lastErr, os.RemoveAll(dir))
}

// makeFolders creates the server's folder with an empty data folder
// inside. As root, the data folder belongs to the user nobody and owner is
// that user, to run the server as. Otherwise owner is nil.
func makeFolders() (dir string, owner *credential, err error) {
	if os.Geteuid() == 0 {
		if owner, err = lookupUnprivileged(); err != nil {
			return "", nil, err
		}
	}

	dir, err = os.MkdirTemp(tempParent(owner != nil), "helpline-pgtest-")
	if err != nil {
		return "", nil, fmt.Errorf("make the server folder: %w", err)
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return "", nil, errors.Join(fmt.Errorf("make the data folder: %w", err), os.RemoveAll(dir))
	}
	if owner == nil {
		return dir, nil, nil
	}

	// The user nobody must pass through dir to reach its data folder and
	// must own that folder, which postgres checks has mode 0700.
	if err := os.Chmod(dir, 0o711); err != nil {
		return "", nil, errors.Join(fmt.Errorf("open the server folder to %s: %w", unprivilegedUser, err), os.RemoveAll(dir))
	}
	if err := os.Chown(dataDir, int(owner.uid), int(owner.gid)); err != nil {
		return "", nil, errors.Join(fmt.Errorf("give the data folder to %s: %w", unprivilegedUser, err), os.RemoveAll(dir))
	}
	return dir, owner, nil
}

// tempParent returns the folder to create the server's folder in. A server
// running as the user nobody needs every folder above its own open to
// others, as /tmp is and a private TMPDIR may not be.
func tempParent(unprivileged bool) string {
	parent := os.TempDir()
	if !unprivileged || openToOthers(parent) {
		return parent
	}
	return "/tmp"
}

// openToOthers reports whether other users may pass through dir and every
// folder above it.
func openToOthers(dir string) bool {
	for {
		info, err := os.Stat(dir)
		if err != nil || info.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// initDB runs initdb on dataDir with trust authentication for superuser.
func initDB(binDir, dataDir string, owner *credential) error {
	cmd := exec.Command(filepath.Join(binDir, "initdb"),
		"--pgdata="+dataDir, "--username="+superuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.Dir = "/"
	cmd.Env = serverEnv()
	cmd.SysProcAttr = procAttr(owner)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", dataDir, err, out)
	}
	return nil
}

// run starts postgres on a free port and waits until it accepts
// connections.
func run(binDir, dir string, owner *credential) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the server log: %w", err)
	}
	defer logFile.Close()

	args := []string{"-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port)}
	for _, setting := range serverSettings {
		args = append(args, "-c", setting)
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Dir = "/"
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = procAttr(owner)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run postgres: %w", err)
	}

	srv := &Server{Host: "127.0.0.1", Port: port, dir: dir, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(srv.exited)
	}()
	if err := srv.waitReady(); err != nil {
		return nil, errors.Join(fmt.Errorf("%w; log:\n%s", err, srv.logTail()), srv.stopProcess())
	}
	return srv, nil
}

// serverEnv is the environment of initdb and postgres: the C locale and
// UTC, whatever the test's environment holds.
func serverEnv() []string {
	return []string{"PATH=/usr/bin:/bin", "LANG=C", "LC_ALL=C", "TZ=UTC"}
}

// waitReady connects until the server accepts a connection, it exits, or
// readyTimeout passes.
func (s *Server) waitReady() error {
	admin, err := sql.Open("pgx", s.DSN(superuser))
	if err != nil {
		return fmt.Errorf("open the admin connection: %w", err)
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, stop := context.WithTimeout(context.Background(), time.Second)
		err = admin.PingContext(ctx)
		stop()
		if err == nil {
			s.admin = admin
			return nil
		}
		select {
		case <-s.exited:
			return errors.Join(fmt.Errorf("postgres exited while starting: %w", err), admin.Close())
		case <-time.After(readyPoll):
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("postgres did not accept connections within %s: %w", readyTimeout, err), admin.Close())
		}
	}
}

// DSN returns the connection string of database as the superuser.
func (s *Server) DSN(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// NewDatabase creates an empty database for t, copied from template1,
// and returns its connection string. The database is dropped when t ends,
// with any connections still open to it.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := databaseName(t.Name())
	ctx, stop := context.WithTimeout(context.Background(), readyTimeout)
	defer stop()
	if _, err := s.admin.ExecContext(ctx, `CREATE DATABASE `+quoteIdentifier(name)); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, stop := context.WithTimeout(context.Background(), readyTimeout)
		defer stop()
		if _, err := s.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+quoteIdentifier(name)+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return s.DSN(name)
}

// nameUnsafe matches the characters of a test name that a database name
// leaves out.
var nameUnsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName builds a unique database name from a test name.
func databaseName(testName string) string {
	name := fmt.Sprintf("t%d_%s", databaseCount.Add(1), nameUnsafe.ReplaceAllString(strings.ToLower(testName), "_"))
	if len(name) > maxIdentifier {
		name = name[:maxIdentifier]
	}
	return name
}

func quoteIdentifier(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Stop shuts the server down fast (SIGINT, which rolls back open
// transactions), kills it after stopTimeout, and removes its folder. A
// second call does nothing.
func (s *Server) Stop() error {
	var err error
	s.stopOnce.Do(func() {
		var closeErr error
		if s.admin != nil {
			closeErr = s.admin.Close()
		}
		err = errors.Join(closeErr, s.stopProcess(), os.RemoveAll(s.dir))
	})
	return err
}

// stopProcess ends the server process by its PID and waits for it.
func (s *Server) stopProcess() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("signal postgres (pid %d): %w", s.cmd.Process.Pid, err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	if err := s.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill postgres (pid %d): %w", s.cmd.Process.Pid, err)
	}
	<-s.exited
	return fmt.Errorf("postgres (pid %d) did not stop within %s and was killed", s.cmd.Process.Pid, stopTimeout)
}

// logTail returns the end of the server log, for errors.
func (s *Server) logTail() string {
	const maxTail = 4096
	content, err := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(content) > maxTail {
		content = content[len(content)-maxTail:]
	}
	return string(content)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	if err := listener.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}
