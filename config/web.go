package config

import (
	"crypto/tls"
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"helpline/web/password"
)

// Keys of the web section that the example file does not provide
// defaults for.
const (
	// webUsersKey has no default, so that a real configuration never
	// inherits the demo users and their published passwords.
	webUsersKey = "web.users"
	// allowDemoUsersKey defaults to false, so that a file that leaves it
	// out never accepts the published demo password hashes.
	allowDemoUsersKey = "web.allow_demo_users"
)

// Web user roles, as web.users[].role spells them.
const (
	RoleCounselor  = "counselor"
	RoleSupervisor = "supervisor"
	RoleFollowUp   = "followup"
	RoleAdmin      = "admin"
)

// webRoles are the allowed web.users[].role values.
var webRoles = []string{RoleCounselor, RoleSupervisor, RoleFollowUp, RoleAdmin}

// Limits of the web section.
const (
	// maxUserNameLength bounds a login name, in bytes.
	maxUserNameLength = 64
	// maxSessionTTL bounds web.session_ttl, so that a typo cannot keep a
	// stolen cookie valid for months.
	maxSessionTTL = 30 * 24 * time.Hour
	// maxLockoutAttempts bounds web.lockout.attempts.
	maxLockoutAttempts = 100
	// maxSourceLockoutAttempts bounds web.lockout.source_attempts.
	maxSourceLockoutAttempts = 1000
)

// userNamePattern matches a login name: ASCII letters, digits, '.', '_'
// and '-'.
var userNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// demoUserHashes are the password hashes of the example file's demo users,
// whose passwords are the user name followed by "-demo" and are published
// in docs/configuration.md. A user with one of these hashes is a demo user.
var demoUserHashes = map[string]string{
	"kim":   "$argon2id$v=19$m=65536,t=3,p=4$r4gvScVWXvNiejSiuOO8Zg$hSmWGZSsdJ0so8d9x6M0cLYDOJgnZe7qhyvYZJulSXg",
	"lee":   "$argon2id$v=19$m=65536,t=3,p=4$6EiW1/dGo7WOltQZkfjzww$OTp/q2S9NB6ebOu5ouSVMlwwbcRMQWu6LRgeoKBs9pk",
	"park":  "$argon2id$v=19$m=65536,t=3,p=4$fF94fC5OfnXFqCevsjrd3g$2vv7hGEQlHE/oZHSfS11KTHWK0nPf5/YmFYK4Foc0wM",
	"choi":  "$argon2id$v=19$m=65536,t=3,p=4$4xD092mN5DQyh/pypuWNXQ$cok6lTQemGxJ4wfLJhASuvGgEHaK30nDxbmNHR7R1Qc",
	"admin": "$argon2id$v=19$m=65536,t=3,p=4$9hYhS7DaaKJaQ51ocSpBjg$rTDbSY67tfZCTDxvCibjQbIXBUsV0NP7yW3DkVTfiQY",
}

// Web is the section of the web pages (supervisor board, counselor
// console, follow-up list) and of the logins that open them and the API.
type Web struct {
	// SessionTTL is how long a login lasts. Default 12h, at most 720h.
	SessionTTL time.Duration `mapstructure:"session_ttl"`
	// Lockout blocks logins after repeated failures.
	Lockout Lockout `mapstructure:"lockout"`
	// TLS makes api.listen serve HTTPS when both files are set.
	TLS WebTLS `mapstructure:"tls"`
	// ServiceLevel is the answer time that counts toward the service level
	// on the board. Default 20s.
	ServiceLevel time.Duration `mapstructure:"service_level"`
	// WaitAlert is the wait after which the board raises an alert for a
	// caller. Default 2m.
	WaitAlert time.Duration `mapstructure:"wait_alert"`
	// AllowDemoUsers permits the published demo password hashes. The
	// example file sets true, and a file that leaves it out gets false.
	AllowDemoUsers bool `mapstructure:"allow_demo_users"`
	// Users are the people who may log in. A file that leaves it out has
	// none, and only the API token works.
	Users []WebUser `mapstructure:"users"`
}

// Lockout is the login lockout. After Attempts failed logins within
// Window for one user name from one source address, logins for that name
// from that address are rejected for Duration. After SourceAttempts
// failures from one address, whatever the names, every login from it is
// rejected for Duration.
type Lockout struct {
	// Attempts is the number of failures of one name from one address
	// that locks that name there. Default 5.
	Attempts int `mapstructure:"attempts"`
	// SourceAttempts is the number of failures from one address that
	// locks every login from it. Default 20, at least Attempts.
	SourceAttempts int `mapstructure:"source_attempts"`
	// Window is the time in which the failures count. Default 15m.
	Window time.Duration `mapstructure:"window"`
	// Duration is how long the lock lasts. Default 15m.
	Duration time.Duration `mapstructure:"duration"`
}

// WebTLS names the certificate and key that api.listen serves HTTPS with.
type WebTLS struct {
	// CertFile is a PEM certificate chain. Default empty: plain HTTP.
	CertFile string `mapstructure:"cert_file"`
	// KeyFile is the PEM private key of the certificate.
	KeyFile string `mapstructure:"key_file"`
}

// Enabled reports whether the API listener serves HTTPS.
func (t WebTLS) Enabled() bool {
	return t.CertFile != "" && t.KeyFile != ""
}

// WebUser is one login.
type WebUser struct {
	// Name is the login name.
	Name string `mapstructure:"name"`
	// Role is counselor, supervisor, followup or admin.
	Role string `mapstructure:"role"`
	// Counselor is the counselor id (SIP user) of a counselor login, and
	// empty for the other roles.
	Counselor string `mapstructure:"counselor"`
	// PasswordHash is an argon2id hash from `helpline web hash-password`,
	// or a bcrypt hash.
	PasswordHash string `mapstructure:"password_hash" json:"-"`
}

// DemoUsersInUse returns the names of users whose password hash is a
// published demo hash, in configuration order. Load accepts them only
// with web.allow_demo_users on.
func (c *Config) DemoUsersInUse() []string {
	var names []string
	for _, u := range c.Web.Users {
		if isDemoHash(u.PasswordHash) {
			names = append(names, u.Name)
		}
	}
	return names
}

func isDemoHash(hash string) bool {
	for _, demo := range demoUserHashes {
		if hash == demo {
			return true
		}
	}
	return false
}

// validateWeb checks the web section against the counselors.
func validateWeb(w *Web, counselors []Counselor, ps *problems) {
	requirePositiveAs(ps, "web.session_ttl", w.SessionTTL, "12h")
	if w.SessionTTL > maxSessionTTL {
		ps.add("web.session_ttl", w.SessionTTL, "is longer than %s: use a shorter time, such as 12h", maxSessionTTL)
	}
	validateLockout(&w.Lockout, ps)
	requirePositiveAs(ps, "web.service_level", w.ServiceLevel, "20s")
	requirePositiveAs(ps, "web.wait_alert", w.WaitAlert, "2m")
	validateWebTLS(&w.TLS, ps)
	validateWebUsers(w, counselors, ps)
}

// validateLockout checks the lockout counts and times. The source count
// may not be below the per-name count, because then one person's typos
// would lock everyone behind the same address first.
func validateLockout(l *Lockout, ps *problems) {
	if l.Attempts < 1 || l.Attempts > maxLockoutAttempts {
		ps.add("web.lockout.attempts", l.Attempts, "must be from 1 to %d: use a count such as 5", maxLockoutAttempts)
	}
	switch {
	case l.SourceAttempts < 1 || l.SourceAttempts > maxSourceLockoutAttempts:
		ps.add("web.lockout.source_attempts", l.SourceAttempts, "must be from 1 to %d: use a count such as 20", maxSourceLockoutAttempts)
	case l.SourceAttempts < l.Attempts:
		ps.add("web.lockout.source_attempts", l.SourceAttempts,
			"is below web.lockout.attempts (%d): use a count of at least that, such as 20, so that one person's typos do not lock everyone behind the same address", l.Attempts)
	}
	requirePositiveAs(ps, "web.lockout.window", l.Window, "15m")
	requirePositiveAs(ps, "web.lockout.duration", l.Duration, "15m")
}

// requirePositiveAs rejects a duration that is not positive, suggesting
// example, a value that fits the key.
func requirePositiveAs(ps *problems, key string, d time.Duration, example string) {
	if d <= 0 {
		ps.add(key, d, "must be positive: use a duration such as %s", example)
	}
}

// validateWebTLS checks that the certificate and key come together and
// load as a pair.
func validateWebTLS(t *WebTLS, ps *problems) {
	switch {
	case t.CertFile == "" && t.KeyFile == "":
		return
	case t.CertFile == "":
		ps.add("web.tls.cert_file", nil, "is empty but web.tls.key_file is set: set both to serve HTTPS, or neither")
		return
	case t.KeyFile == "":
		ps.add("web.tls.key_file", nil, "is empty but web.tls.cert_file is set: set both to serve HTTPS, or neither")
		return
	}
	for _, f := range []struct{ key, path string }{{"web.tls.cert_file", t.CertFile}, {"web.tls.key_file", t.KeyFile}} {
		if _, err := os.ReadFile(f.path); err != nil {
			ps.add(f.key, f.path, "cannot be read (%s): check the path and the file's permissions", describeFileError(err))
			return
		}
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		ps.add("web.tls.cert_file", t.CertFile, "does not load with web.tls.key_file: %v: use a PEM certificate and its PEM private key", err)
	}
}

// describeFileError names a file error without repeating the path.
func describeFileError(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "no such file"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	default:
		return err.Error()
	}
}

// validateWebUsers checks each user's name, role, counselor id and hash.
func validateWebUsers(w *Web, counselors []Counselor, ps *problems) {
	seen := make(map[string]int)
	for i := range w.Users {
		key := joinKey("web.users", strconv.Itoa(i))
		u := &w.Users[i]
		first := len(ps.list)
		switch earlier, duplicate := seen[u.Name]; {
		case u.Name == "":
			ps.add(key+".name", nil, "must not be empty: use a login name of ASCII letters, digits, '.', '_' or '-'")
		case len(u.Name) > maxUserNameLength || !userNamePattern.MatchString(u.Name):
			ps.add(key+".name", u.Name, "is not a valid login name: use up to %d ASCII letters, digits, '.', '_' or '-'", maxUserNameLength)
		case duplicate:
			ps.add(key+".name", u.Name, "is already the name of web.users[%d]: names must be unique", earlier)
		default:
			seen[u.Name] = i
		}
		validateUserRole(u, key, counselors, ps)
		validateUserHash(u, key, w.AllowDemoUsers, ps)
		ps.labelFrom(first, key, webUserLabel(i, u.Name))
	}
}

// webUserLabel names entry i of web.users for people: its index, which
// counts from 0, and its name when the name is valid, such as
// "web.users[2] (park)".
func webUserLabel(i int, name string) string {
	label := "web.users[" + strconv.Itoa(i) + "]"
	if name != "" && len(name) <= maxUserNameLength && userNamePattern.MatchString(name) {
		label += " (" + name + ")"
	}
	return label
}

func validateUserRole(u *WebUser, key string, counselors []Counselor, ps *problems) {
	switch {
	case u.Role == "":
		ps.add(key+".role", nil, "must not be empty: use one of %s", strings.Join(webRoles, ", "))
	case !slices.Contains(webRoles, u.Role):
		ps.add(key+".role", u.Role, "is not a role: use one of %s", strings.Join(webRoles, ", "))
	case u.Role == RoleCounselor && u.Counselor == "":
		ps.add(key+".counselor", nil, "must name the counselor id of a counselor login: use an id from counselors")
	case u.Role == RoleCounselor && !slices.ContainsFunc(counselors, func(c Counselor) bool { return c.ID == u.Counselor }):
		ps.add(key+".counselor", u.Counselor, "is not a configured counselor id: use an id from counselors")
	case u.Role != RoleCounselor && u.Counselor != "":
		ps.add(key+".counselor", u.Counselor, "is set for role %s: only counselor logins have a counselor id, so remove it", u.Role)
	}
}

func validateUserHash(u *WebUser, key string, allowDemo bool, ps *problems) {
	if u.PasswordHash == "" {
		ps.add(key+".password_hash", nil, "must not be empty: make one with `helpline web hash-password`")
		return
	}
	// The hash is not shown: it is not secret like a password, but it
	// lets anyone who reads the log guess passwords offline.
	if err := password.Check(u.PasswordHash); err != nil {
		ps.add(key+".password_hash", nil, "is not usable: %v: make one with `helpline web hash-password`", err)
		return
	}
	if isDemoHash(u.PasswordHash) && !allowDemo {
		ps.add(key+".password_hash", nil, "is a published demo hash and web.allow_demo_users is false: make a real one with `helpline web hash-password`")
	}
}
