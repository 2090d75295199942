package e2e

import (
	"crypto/tls"
	"net"
	"strconv"
	"syscall"
	"testing"

	"helpline/internal/tlstest"
)

// TLSListener is a SIP over TLS listener added to a server's
// configuration by WithTLS.
type TLSListener struct {
	// Port is the listener's port on 127.0.0.1.
	Port int
	// Certificate is the self-signed certificate the listener presents,
	// generated at test time.
	Certificate tlstest.Certificate
}

// Addr returns the listener's host:port.
func (l TLSListener) Addr() string {
	return net.JoinHostPort(Loopback, strconv.Itoa(l.Port))
}

// WithTLS makes a self-signed certificate in a temporary folder and returns
// the listener with the edit that adds it to a server's configuration:
// a sip.listen entry with network tls on a free port, and sip.tls.
func WithTLS(t testing.TB) (TLSListener, func(cfg map[string]any)) {
	t.Helper()
	listener := TLSListener{Port: FreePort(t), Certificate: tlstest.Write(t, t.TempDir(), "helpline e2e")}
	mutate := func(cfg map[string]any) {
		listen, _ := ConfigValue(cfg, "sip.listen").([]any)
		listen = append(listen, map[string]any{"network": "tls", "address": listener.Addr()})
		MustSetConfig(t, cfg, "sip.listen", listen)
		MustSetConfig(t, cfg, "sip.tls.cert_file", listener.Certificate.CertFile)
		MustSetConfig(t, cfg, "sip.tls.key_file", listener.Certificate.KeyFile)
	}
	return listener, mutate
}

// PeerSerial opens a new TLS connection to the listener and returns the
// serial number, in hexadecimal, of the certificate it presents. trust is
// the certificate the client trusts.
func (l TLSListener) PeerSerial(t testing.TB, trust tlstest.Certificate) string {
	t.Helper()
	conn, err := tls.Dial("tcp", l.Addr(), &tls.Config{RootCAs: trust.Pool(), MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("opening a TLS connection to %s: %v", l.Addr(), err)
	}
	defer conn.Close()
	peers := conn.ConnectionState().PeerCertificates
	if len(peers) == 0 {
		t.Fatalf("the TLS listener %s presented no certificate", l.Addr())
	}
	return peers[0].SerialNumber.Text(16)
}

// Reload sends SIGHUP, which makes the server read its TLS certificate
// files again.
func (s *Server) Reload() {
	s.proc.signal(syscall.SIGHUP)
}
