package config

import (
	"crypto/tls"
	"net/netip"
	"strings"
	"testing"

	"helpline/internal/tlstest"
)

func TestSIPSecurityRules(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "tls listener without cert", edits: []edit{{"sip.listen.1.network", "tls"}}, key: "sip.tls.cert_file", message: "must be set because a sip.listen entry has network tls"},
		{name: "tls listener without key", edits: []edit{{"sip.listen.1.network", "tls"}, {"sip.tls.cert_file", "/nonexistent/cert.pem"}}, key: "sip.tls.key_file", message: "must be set"},
		{name: "unreadable cert", edits: []edit{{"sip.listen.1.network", "tls"}, {"sip.tls.cert_file", "/nonexistent/cert.pem"}, {"sip.tls.key_file", "/nonexistent/key.pem"}}, key: "sip.tls.cert_file", message: "cannot be read (no such file)"},
		{name: "old tls version", edits: []edit{{"sip.tls.min_version", "1.0"}}, key: "sip.tls.min_version", message: "is not supported: use 1.2 or 1.3"},
		{name: "office network with host bits", edits: []edit{{"sip.secure_counselors.office_networks", []any{"10.1.2.3/16"}}}, key: "sip.secure_counselors.office_networks.0", message: "has address bits set"},
		{name: "required without tls listener", edits: []edit{{"sip.secure_counselors.required_outside_office", true}}, key: "sip.secure_counselors.required_outside_office", message: "needs a sip.listen entry with network tls"},
	})
}

func TestSIPSecurityLoads(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "helpline config test")
	tree := exampleTree(t)
	setPath(t, tree, "sip.listen.1.network", "tls")
	setPath(t, tree, "sip.tls.cert_file", cert.CertFile)
	setPath(t, tree, "sip.tls.key_file", cert.KeyFile)
	setPath(t, tree, "sip.tls.min_version", "1.3")
	setPath(t, tree, "sip.secure_counselors.office_networks", []any{"10.20.0.0/16"})
	setPath(t, tree, "sip.secure_counselors.required_outside_office", true)

	cfg, err := loadTree(t, tree, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.SIP.TLS.MinTLSVersion(); got != tls.VersionTLS13 {
		t.Errorf("MinTLSVersion = %x, expected TLS 1.3", got)
	}
	secure := cfg.SIP.SecureCounselors
	if !secure.RequiredOutsideOffice {
		t.Error("required_outside_office did not load as true")
	}
	if !secure.InOffice(netip.MustParseAddr("10.20.3.4")) || secure.InOffice(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("InOffice with %v: expected 10.20.3.4 inside and 127.0.0.1 outside", secure.OfficeNetworks)
	}
}

func TestSIPTLSKeyPairMismatch(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "helpline config test")
	other := tlstest.Write(t, t.TempDir(), "helpline other")
	tree := exampleTree(t)
	setPath(t, tree, "sip.listen.1.network", "tls")
	setPath(t, tree, "sip.tls.cert_file", cert.CertFile)
	setPath(t, tree, "sip.tls.key_file", other.KeyFile)

	_, err := loadTree(t, tree, nil)
	problem := findProblem(t, validationProblems(t, err), "sip.tls.cert_file")
	if !strings.Contains(problem.Message, "does not load with sip.tls.key_file") {
		t.Errorf("problem = %q, expected a key pair that does not load", problem)
	}
}

func TestSIPTLSCertWithoutListenerWarns(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "sip.tls.cert_file", "/nonexistent/cert.pem")
	cfg, err := loadTree(t, tree, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, w := range cfg.Warnings {
		if w.Key == "sip.tls.cert_file" && strings.Contains(w.Message, "no sip.listen entry has network tls") {
			return
		}
	}
	t.Errorf("warnings = %v, expected one for sip.tls.cert_file without a tls listener", cfg.Warnings)
}
