package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

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
