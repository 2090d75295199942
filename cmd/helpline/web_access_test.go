package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/counselor"
	"helpline/queue"
	"helpline/web"
	"helpline/web/password"
)

func TestHashPasswordPrintsArgon2id(t *testing.T) {
	var stdout, stderr bytes.Buffer
	status := runWithInput([]string{"web", "hash-password"}, strings.NewReader("kim-demo-passphrase\n"), &stdout, &stderr)
	if status != exitOK {
		t.Fatalf("exit status = %d, want 0: %s", status, stderr.String())
	}
	hash := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("output = %q, want an argon2id hash", hash)
	}
	if err := password.Verify(hash, "kim-demo-passphrase"); err != nil {
		t.Errorf("the printed hash does not verify the password: %v", err)
	}
}

func TestHashPasswordBadInput(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		stdin   string
		message string
	}{
		{"empty input", []string{"web", "hash-password"}, "", "no password on standard input"},
		{"empty line", []string{"web", "hash-password"}, "\n", "no password on standard input"},
		{"short", []string{"web", "hash-password"}, "kim-demo\n", "the password has 8 characters: use at least 10"},
		{"short in Korean", []string{"web", "hash-password"}, "외로움안녕비밀번호\n", "the password has 9 characters: use at least 10"},
		{"too long", []string{"web", "hash-password"}, strings.Repeat("x", password.MaxLength+1), "longer than 1024 bytes"},
		{"argument", []string{"web", "hash-password", "secret"}, "x\n", "takes no arguments"},
		{"no subcommand", []string{"web"}, "", "web needs a subcommand: hash-password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := runWithInput(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if status != exitUsage {
				t.Errorf("exit status = %d, want %d", status, exitUsage)
			}
			if !strings.Contains(stderr.String(), tt.message) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.message)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

// fakeTerminal is standard input on a terminal: it returns the typed
// lines one per ReadSecret and counts the reads.
type fakeTerminal struct {
	strings.Reader
	typed []string
	reads int
}

func (f *fakeTerminal) ReadSecret() ([]byte, error) {
	if f.reads >= len(f.typed) {
		return nil, io.EOF
	}
	f.reads++
	return []byte(f.typed[f.reads-1]), nil
}

func TestHashPasswordOnTerminal(t *testing.T) {
	tests := []struct {
		name    string
		typed   []string
		status  int
		message string
		reads   int
	}{
		{"matching", []string{"a long passphrase", "a long passphrase"}, exitOK, "", 2},
		{"differing", []string{"a long passphrase", "a long passphrase!"}, exitUsage, "the two passwords differ", 2},
		{"short", []string{"short"}, exitUsage, "the password has 5 characters: use at least 10", 1},
		{"closed", nil, exitFailure, "reading the password from the terminal", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tty := &fakeTerminal{typed: tt.typed}
			var stdout, stderr bytes.Buffer
			status := runWithInput([]string{"web", "hash-password"}, tty, &stdout, &stderr)

			if status != tt.status {
				t.Errorf("exit status = %d, want %d: %s", status, tt.status, stderr.String())
			}
			if tty.reads != tt.reads {
				t.Errorf("terminal read %d times, want %d", tty.reads, tt.reads)
			}
			if !strings.Contains(stderr.String(), "New web password (at least 10 characters): ") {
				t.Errorf("stderr %q lacks the prompt", stderr.String())
			}
			if tt.status != exitOK {
				if !strings.Contains(stderr.String(), tt.message) {
					t.Errorf("stderr %q lacks %q", stderr.String(), tt.message)
				}
				if stdout.Len() != 0 {
					t.Errorf("stdout = %q, want nothing", stdout.String())
				}
				return
			}
			if !strings.Contains(stderr.String(), "Type it again: ") {
				t.Errorf("stderr %q lacks the second prompt", stderr.String())
			}
			hash := strings.TrimSpace(stdout.String())
			if err := password.Verify(hash, "a long passphrase"); err != nil {
				t.Errorf("stdout %q is not a hash of the typed password: %v", stdout.String(), err)
			}
		})
	}
}

func TestDemoUsersWarn(t *testing.T) {
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatalf("loading the example: %v", err)
	}
	var out bytes.Buffer
	warnAboutConfig(cfg, zerolog.New(&out))
	if !strings.Contains(out.String(), "demo web users") || !strings.Contains(out.String(), `"kim"`) {
		t.Errorf("log %q lacks a warning naming the demo web users", out.String())
	}
}

// writeSelfSignedCert writes a certificate for 127.0.0.1 and its key.
func writeSelfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a key: %v", err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "helpline test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("creating a certificate: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("encoding the key: %v", err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestAPIServesTLS(t *testing.T) {
	certFile, keyFile, pool := writeSelfSignedCert(t)
	cfg := &config.Config{
		API: config.API{Listen: "127.0.0.1:0", Token: "t0ken", Address: netip.MustParseAddrPort("127.0.0.1:0")},
		Web: config.Web{TLS: config.WebTLS{CertFile: certFile, KeyFile: keyFile}},
	}
	store := queue.NewMemoryStore()
	server, err := startAPI(cfg, newAPI(cfg, counselor.New(counselor.Config{Store: store}), zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatalf("startAPI: %v", err)
	}
	t.Cleanup(server.stop)
	addr := server.listener.Addr().String()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/api/v1/counselors", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET over HTTPS: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil {
		t.Errorf("HTTPS status = %d, TLS %v; want 200 over TLS", res.StatusCode, res.TLS != nil)
	}

	plain, err := http.Get("http://" + addr + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Error("the TLS listener answered plain HTTP with 200")
		}
	}
}

func TestAPIRejectsMissingCertAtStart(t *testing.T) {
	cfg := &config.Config{
		API: config.API{Listen: "127.0.0.1:0", Token: "t0ken", Address: netip.MustParseAddrPort("127.0.0.1:0")},
		Web: config.Web{TLS: config.WebTLS{CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}},
	}
	server, err := startAPI(cfg, newAPI(cfg, nil, zerolog.Nop()), zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "web.tls.cert_file") {
		server.stop()
		t.Errorf("startAPI with missing certificate files = %v, want an error naming web.tls.cert_file", err)
	}
}

var loginCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestWiredServerLogsInDemoUser(t *testing.T) {
	s := startInProcess(t, nil)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	page, err := client.Get(s.api.URL + "/login")
	if err != nil {
		t.Fatalf("GET /login: %v", err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	match := loginCSRF.FindSubmatch(body)
	if page.StatusCode != http.StatusOK || match == nil {
		t.Fatalf("GET /login = %d without a form token", page.StatusCode)
	}

	form := url.Values{"user": {"kim"}, "password": {"kim-demo"}, "csrf": {string(match[1])}}
	res, err := client.PostForm(s.api.URL+"/login", form)
	if err != nil {
		t.Fatalf("POST /login: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console" {
		t.Fatalf("login = %d to %q, want 303 to /console", res.StatusCode, res.Header.Get("Location"))
	}

	res, err = client.Get(s.api.URL + "/api/v1/session")
	if err != nil {
		t.Fatalf("GET /api/v1/session: %v", err)
	}
	var session map[string]any
	_ = json.NewDecoder(res.Body).Decode(&session)
	res.Body.Close()
	if session["user"] != "kim" || session["counselor"] != "1001" {
		t.Errorf("session = %v, want kim on 1001", session)
	}

	entries, err := s.app.records.ListAudit(context.Background(), 10)
	if err != nil || len(entries) == 0 || entries[0].Action != web.AuditLogin || entries[0].User != "kim" {
		t.Errorf("audit = %+v, %v; want kim's login stored", entries, err)
	}
}
