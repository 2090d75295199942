package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/internal/tlstest"
	"helpline/sip"
)

func TestNodeAddressesLeaveOutTLS(t *testing.T) {
	cfg := &config.Config{SIP: config.SIP{
		PublicHost: "192.0.2.10",
		Listen: []config.Listener{
			{Network: "udp", Address: netip.MustParseAddrPort("0.0.0.0:5060")},
			{Network: "tcp", Address: netip.MustParseAddrPort("0.0.0.0:5060")},
			{Network: "tls", Address: netip.MustParseAddrPort("0.0.0.0:5061")},
		},
	}}
	got := nodeAddresses(cfg)
	if len(got) != 2 || got["udp"] != "192.0.2.10:5060" || got["tcp"] != "192.0.2.10:5060" {
		t.Errorf("nodeAddresses = %v, expected udp and tcp on 192.0.2.10:5060 only", got)
	}
	if _, ok := got["tls"]; ok {
		t.Errorf("nodeAddresses lists tls: %v", got)
	}
}

func TestLogCertificateWarnsBeforeExpiry(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "helpline cmd test")
	store, err := sip.LoadCertificateStore(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatalf("LoadCertificateStore: %v", err)
	}
	var out bytes.Buffer
	logCertificate(zerolog.New(&out), store, "sip tls certificate loaded")

	text := out.String()
	if !strings.Contains(text, `"message":"sip tls certificate loaded"`) || !strings.Contains(text, `"subject":"CN=helpline cmd test"`) {
		t.Errorf("log lacks the loaded certificate's subject:\n%s", text)
	}
	if !strings.Contains(text, `"level":"warn"`) || !strings.Contains(text, "expires soon") {
		t.Errorf("a certificate valid for a day drew no expiry warning:\n%s", text)
	}
}

func TestReloadExpiredCertificateKeepsCurrent(t *testing.T) {
	dir := t.TempDir()
	cert := tlstest.Write(t, dir, "helpline current")
	store, err := sip.LoadCertificateStore(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatalf("LoadCertificateStore: %v", err)
	}
	tlstest.WriteValidity(t, dir, "helpline expired", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))

	var out bytes.Buffer
	reloadCertificate(store, zerolog.New(&out))

	text := out.String()
	if strings.Contains(text, "sip tls certificate reloaded") {
		t.Errorf("an expired certificate was reported as reloaded:\n%s", text)
	}
	if !strings.Contains(text, `"message":"sip tls certificate reload failed"`) || !strings.Contains(text, cert.CertFile+" expired at ") {
		t.Errorf("log lacks the reload failure naming %s:\n%s", cert.CertFile, text)
	}
	if !strings.Contains(text, `"kept_subject":"CN=helpline current"`) {
		t.Errorf("log does not name the certificate kept in use:\n%s", text)
	}
	if got := store.Info().Subject; got != "CN=helpline current" {
		t.Errorf("certificate in use = %q after the rejected reload, expected CN=helpline current", got)
	}
}

func TestLogCertificateOutsideValidity(t *testing.T) {
	tests := []struct {
		name                string
		notBefore, notAfter time.Time
		wantText            string
	}{
		{name: "expired", notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour), wantText: "has expired"},
		{name: "not valid yet", notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(48 * time.Hour), wantText: "is not valid yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert := tlstest.WriteValidity(t, t.TempDir(), "helpline start", tc.notBefore, tc.notAfter)
			store, err := sip.LoadCertificateStore(cert.CertFile, cert.KeyFile)
			if err != nil {
				t.Fatalf("LoadCertificateStore: %v, expected the server to start", err)
			}
			var out bytes.Buffer
			logCertificate(zerolog.New(&out), store, "sip tls certificate loaded")

			text := out.String()
			if !strings.Contains(text, `"level":"error"`) || !strings.Contains(text, tc.wantText) {
				t.Errorf("log lacks the error %q:\n%s", tc.wantText, text)
			}
		})
	}
}

func TestLogCertificateSerialAsOpenSSL(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "helpline serial")
	store, err := sip.LoadCertificateStore(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatalf("LoadCertificateStore: %v", err)
	}
	var out bytes.Buffer
	logCertificate(zerolog.New(&out), store, "sip tls certificate loaded")

	want := fmt.Sprintf(`"serial_hex":"%X"`, cert.Leaf.SerialNumber.Bytes())
	if !strings.Contains(out.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, out.String())
	}
}
