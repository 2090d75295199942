package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const testBcryptHash = "$2b$04$0123456789012345678901uHGE0Ipp3HcPoxwMdyr6BJMW0BcPS1u"

func TestWebRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "zero session ttl", edits: []edit{{"web.session_ttl", "0s"}}, key: "web.session_ttl", message: "must be positive"},
		{name: "long session ttl", edits: []edit{{"web.session_ttl", "1000h"}}, key: "web.session_ttl", message: "is longer than"},
		{name: "zero attempts", edits: []edit{{"web.lockout.attempts", 0}}, key: "web.lockout.attempts", message: "must be from 1 to 100"},
		{name: "zero source attempts", edits: []edit{{"web.lockout.source_attempts", 0}}, key: "web.lockout.source_attempts", message: "must be from 1 to 1000"},
		{name: "source attempts below attempts", edits: []edit{{"web.lockout.source_attempts", 3}}, key: "web.lockout.source_attempts", message: "is below web.lockout.attempts (5)"},
		{name: "zero window", edits: []edit{{"web.lockout.window", "0s"}}, key: "web.lockout.window", message: "must be positive"},
		{name: "zero lock", edits: []edit{{"web.lockout.duration", "0s"}}, key: "web.lockout.duration", message: "must be positive"},
		{name: "zero service level", edits: []edit{{"web.service_level", "0s"}}, key: "web.service_level", message: "must be positive"},
		{name: "unknown role", edits: []edit{{"web.users.2.role", "boss"}}, key: "web.users.2.role", message: "is not a role: use one of counselor, supervisor, followup, admin"},
		{name: "empty role", edits: []edit{{"web.users.2.role", ""}}, key: "web.users.2.role", message: "must not be empty"},
		{name: "counselor not configured", edits: []edit{{"web.users.0.counselor", "9999"}}, key: "web.users.0.counselor", message: "is not a configured counselor id"},
		{name: "counselor without id", edits: []edit{{"web.users.0.counselor", ""}}, key: "web.users.0.counselor", message: "must name the counselor id"},
		{name: "supervisor with id", edits: []edit{{"web.users.2.counselor", "1001"}}, key: "web.users.2.counselor", message: "is set for role supervisor"},
		{name: "duplicate name", edits: []edit{{"web.users.1.name", "kim"}}, key: "web.users.1.name", message: "is already the name of web.users[0]"},
		{name: "bad name", edits: []edit{{"web.users.1.name", "kim lee"}}, key: "web.users.1.name", message: "is not a valid login name"},
		{name: "plain password", edits: []edit{{"web.users.1.password_hash", "lee-demo"}}, key: "web.users.1.password_hash", message: "neither argon2id"},
		{name: "empty hash", edits: []edit{{"web.users.1.password_hash", ""}}, key: "web.users.1.password_hash", message: "must not be empty"},
		{name: "broken argon2", edits: []edit{{"web.users.1.password_hash", "$argon2id$v=19$m=1,t=1$x$y"}}, key: "web.users.1.password_hash", message: "malformed password hash"},
		{name: "demo hash not allowed", edits: []edit{{"web.allow_demo_users", false}}, key: "web.users.0.password_hash", message: "is a published demo hash"},
		{name: "cert without key", edits: []edit{{"web.tls.cert_file", "/nonexistent/cert.pem"}}, key: "web.tls.key_file", message: "is empty but web.tls.cert_file is set"},
		{name: "key without cert", edits: []edit{{"web.tls.key_file", "/nonexistent/key.pem"}}, key: "web.tls.cert_file", message: "is empty but web.tls.key_file is set"},
		{name: "unreadable cert", edits: []edit{{"web.tls.cert_file", "/nonexistent/cert.pem"}, {"web.tls.key_file", "/nonexistent/key.pem"}}, key: "web.tls.cert_file", message: "cannot be read (no such file)"},
	})
}

func TestWebMessagesNameUserAndExample(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		want  string
	}{
		{"role", []edit{{"web.users.2.role", "boss"}},
			`web.users[2] (park).role: "boss" is not a role: use one of counselor, supervisor, followup, admin`},
		{"bad name", []edit{{"web.users.1.name", "kim lee"}},
			`web.users[1].name: "kim lee" is not a valid login name`},
		{"session ttl", []edit{{"web.session_ttl", "0s"}},
			"web.session_ttl: 0s must be positive: use a duration such as 12h"},
		{"wait alert", []edit{{"web.wait_alert", "0s"}},
			"web.wait_alert: 0s must be positive: use a duration such as 2m"},
		{"lockout duration", []edit{{"web.lockout.duration", "0s"}},
			"web.lockout.duration: 0s must be positive: use a duration such as 15m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := exampleTree(t)
			for _, e := range tt.edits {
				setPath(t, tree, e.path, e.value)
			}
			_, err := loadTree(t, tree, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestWebExampleValues(t *testing.T) {
	cfg := mustLoad(t, "", nil)
	w := cfg.Web
	if w.SessionTTL != 12*time.Hour || w.Lockout != (Lockout{Attempts: 5, SourceAttempts: 20, Window: 15 * time.Minute, Duration: 15 * time.Minute}) {
		t.Errorf("session and lockout = %v %+v, want 12h and 5 per name, 20 per address in 15m for 15m", w.SessionTTL, w.Lockout)
	}
	if w.ServiceLevel != 20*time.Second || w.WaitAlert != 2*time.Minute || w.TLS.Enabled() {
		t.Errorf("service level %v, wait alert %v, TLS %v: want 20s, 2m, off", w.ServiceLevel, w.WaitAlert, w.TLS.Enabled())
	}
	if got, want := cfg.DemoUsersInUse(), []string{"kim", "lee", "park", "choi", "admin"}; !slices.Equal(got, want) {
		t.Errorf("DemoUsersInUse() = %v, want %v", got, want)
	}
	for _, u := range w.Users {
		if demoUserHashes[u.Name] != u.PasswordHash {
			t.Errorf("user %s: the example hash differs from demoUserHashes", u.Name)
		}
	}
}

func TestWebUsersNotInherited(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "web", remove)
	cfg, err := loadTree(t, tree, nil)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(cfg.Web.Users) != 0 || cfg.Web.AllowDemoUsers {
		t.Errorf("a file without web has users %v and allow_demo_users %t, want none and false", cfg.Web.Users, cfg.Web.AllowDemoUsers)
	}
	if cfg.Web.SessionTTL != 12*time.Hour {
		t.Errorf("session_ttl = %v, want the example's 12h", cfg.Web.SessionTTL)
	}
}

func TestWebAcceptsBcryptAndRealHash(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "web.allow_demo_users", false)
	setPath(t, tree, "web.users", []any{
		map[string]any{"name": "han", "role": "admin", "password_hash": testBcryptHash},
	})
	cfg, err := loadTree(t, tree, nil)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(cfg.Web.Users) != 1 || len(cfg.DemoUsersInUse()) != 0 {
		t.Errorf("users = %+v, demo = %v; want han and no demo user", cfg.Web.Users, cfg.DemoUsersInUse())
	}
}

func TestWebTLSKeyPairMismatch(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	key := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	tree := exampleTree(t)
	setPath(t, tree, "web.tls", map[string]any{"cert_file": cert, "key_file": key})
	_, err := loadTree(t, tree, nil)
	problem := findProblem(t, validationProblems(t, err), "web.tls.cert_file")
	if !strings.Contains(problem.Message, "does not load with web.tls.key_file") {
		t.Errorf("problem = %q, want a key pair that does not load", problem)
	}
}
