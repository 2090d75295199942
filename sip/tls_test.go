package sip

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/internal/tlstest"
	"helpline/media"
	"helpline/routing"
)

// startTLSNode starts a server with a UDP listener and a TLS listener that
// presents the store's certificate, under the given policy, and returns it
// with its TLS address.
func startTLSNode(t *testing.T, store *CertificateStore, policy SecurityPolicy) (*Server, netip.AddrPort) {
	t.Helper()
	srv := startTestNode(t, testNodeSetup{
		listeners: []Listener{
			{Network: "udp", Address: netip.MustParseAddrPort("127.0.0.1:0")},
			{Network: "tls", Address: netip.MustParseAddrPort("127.0.0.1:0")},
		},
		tls:      store.ServerConfig(tls.VersionTLS12),
		security: policy,
	})
	listener, ok := srv.listenerFor("tls")
	if !ok {
		t.Fatal("server has no TLS listener")
	}
	return srv, listener.Address
}

func loadTestStore(t *testing.T, cert tlstest.Certificate) *CertificateStore {
	t.Helper()
	store, err := LoadCertificateStore(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatalf("LoadCertificateStore: %v", err)
	}
	return store
}

func TestTLSCounselorCalledOverItsConnection(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "helpline test")
	srv, tlsAddr := startTLSNode(t, loadTestStore(t, cert), SecurityPolicy{RequiredOutsideOffice: true})
	phone := startRelayPhone(t, relayPhoneMode{ringOnly: true, tls: &tls.Config{RootCAs: cert.Pool(), MinVersion: tls.VersionTLS12}})
	registerRelayPhone(t, phone.relayPeer, tlsAddr)

	binding, ok := srv.registrar.Lookup(testUser)
	if !ok {
		t.Fatal("no binding after REGISTER over TLS")
	}
	if binding.Transport != "tls" {
		t.Fatalf("binding transport = %q, expected tls", binding.Transport)
	}

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	dr := dialRequest{toUser: testUser, codec: media.PCMU, log: zerolog.Nop()}
	if err := dr.reach(binding); err != nil {
		t.Fatalf("reach: %v", err)
	}
	dialed := make(chan dialOutcome, 1)
	go func() { dialed <- srv.dial(ctx, dr) }()

	var invite *sipmsg.Request
	select {
	case invite = <-phone.invites:
	case <-ctx.Done():
		t.Fatal("the phone got no INVITE over its TLS connection")
	}
	cancel()
	<-dialed

	if got := invite.Transport(); got != "TLS" {
		t.Errorf("INVITE transport = %q, expected TLS", got)
	}
	if got := invite.Source(); got != tlsAddr.String() {
		t.Errorf("INVITE came from %s, expected the server's TLS listener %s (the phone's own connection)", got, tlsAddr)
	}
	contact := invite.Contact()
	if contact == nil {
		t.Fatal("INVITE has no Contact")
	}
	if transport, _ := contact.Address.UriParams.Get("transport"); transport != "tls" || contact.Address.Port != int(tlsAddr.Port()) {
		t.Errorf("Contact = %s, expected transport=tls on port %d", contact.Address.String(), tlsAddr.Port())
	}
	if via := invite.Via(); via == nil || !strings.EqualFold(via.Transport, "TLS") {
		t.Errorf("Via = %v, expected transport TLS", via)
	}
	body := string(invite.Body())
	if !strings.Contains(body, "RTP/SAVP") || !strings.Contains(body, "a=crypto:1 "+media.SuiteAES128SHA1_80+" inline:") {
		t.Errorf("offer to a counselor outside the office is not SRTP only:\n%s", body)
	}
}

func TestOfferProfilesFollowTransportAndPolicy(t *testing.T) {
	outside := SecurityPolicy{RequiredOutsideOffice: true}
	inside := SecurityPolicy{RequiredOutsideOffice: true, OfficeNetworks: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}
	tests := []struct {
		name      string
		policy    SecurityPolicy
		source    string
		transport string
		want      []mediaProfile
	}{
		{name: "outside office with requirement", policy: outside, source: "198.51.100.7:5061", transport: "tls", want: []mediaProfile{profileSRTP}},
		{name: "inside office with requirement over udp", policy: inside, source: "198.51.100.7:5060", transport: "udp", want: []mediaProfile{profilePlain, profileSRTP}},
		{name: "inside office with requirement over tls", policy: inside, source: "198.51.100.7:5061", transport: "tls", want: []mediaProfile{profileSRTP, profilePlain}},
		{name: "requirement off over tls", policy: SecurityPolicy{}, source: "198.51.100.7:5061", transport: "tls", want: []mediaProfile{profileSRTP, profilePlain}},
		{name: "requirement off over udp", policy: SecurityPolicy{}, source: "198.51.100.7:5060", transport: "udp", want: []mediaProfile{profilePlain, profileSRTP}},
		{name: "requirement off over tcp", policy: SecurityPolicy{}, source: "198.51.100.7:5060", transport: "tcp", want: []mediaProfile{profilePlain, profileSRTP}},
		{name: "not a registered phone", policy: outside, want: []mediaProfile{profilePlain}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &Server{opts: Options{SecureCounselors: tc.policy}}
			d := dialRequest{codec: media.PCMU, registeredTransport: tc.transport}
			if tc.source != "" {
				d.source = netip.MustParseAddrPort(tc.source)
			}
			if got := srv.offerProfiles(d); !slices.Equal(got, tc.want) {
				t.Errorf("offerProfiles = %v, expected %v", got, tc.want)
			}
		})
	}
}

func TestBuildDialOfferProfiles(t *testing.T) {
	srv := &Server{}
	d := dialRequest{codec: media.PCMU}
	local := netip.MustParseAddrPort("192.0.2.1:40000")

	offer, key, err := srv.buildDialOffer(d, profileSRTP, local, 1)
	if err != nil {
		t.Fatalf("buildDialOffer SRTP: %v", err)
	}
	if key == nil || !strings.Contains(string(offer), "RTP/SAVP") || !strings.Contains(string(offer), "a=crypto:1 ") {
		t.Errorf("SRTP offer lacks RTP/SAVP, a=crypto or its key:\n%s", offer)
	}

	offer, key, err = srv.buildDialOffer(d, profilePlain, local, 1)
	if err != nil {
		t.Fatalf("buildDialOffer plain: %v", err)
	}
	if key != nil || !strings.Contains(string(offer), "RTP/AVP") || strings.Contains(string(offer), "a=crypto") {
		t.Errorf("plain offer is not RTP/AVP without a key:\n%s", offer)
	}
}

func TestRegisterSecureOutsideOffice(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "helpline test")
	trustServer := &tls.Config{RootCAs: cert.Pool(), MinVersion: tls.VersionTLS12}
	tests := []struct {
		name       string
		office     []netip.Prefix
		mode       relayPhoneMode
		wantStatus int
	}{
		{name: "udp outside office", mode: relayPhoneMode{}, wantStatus: sipmsg.StatusForbidden},
		{name: "tcp outside office", mode: relayPhoneMode{tcp: true}, wantStatus: sipmsg.StatusForbidden},
		{name: "tls outside office", mode: relayPhoneMode{tls: trustServer}, wantStatus: sipmsg.StatusUnauthorized},
		{name: "udp inside office", office: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, mode: relayPhoneMode{}, wantStatus: sipmsg.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTestNode(t, testNodeSetup{
				listeners: []Listener{
					{Network: "udp", Address: netip.MustParseAddrPort("127.0.0.1:0")},
					{Network: "tcp", Address: netip.MustParseAddrPort("127.0.0.1:0")},
					{Network: "tls", Address: netip.MustParseAddrPort("127.0.0.1:0")},
				},
				tls:      loadTestStore(t, cert).ServerConfig(tls.VersionTLS12),
				security: SecurityPolicy{OfficeNetworks: tc.office, RequiredOutsideOffice: true},
			})
			phone := startRelayPhone(t, tc.mode)
			listener, ok := srv.listenerFor(phone.transport)
			if !ok {
				t.Fatalf("no %s listener", phone.transport)
			}

			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			defer cancel()
			res, err := phone.client.Do(ctx, newRelayRegister(phone.relayPeer, listener.Address))
			if err != nil {
				t.Fatalf("send REGISTER: %v", err)
			}
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d %s, expected %d", res.StatusCode, res.Reason, tc.wantStatus)
			}
			if tc.wantStatus != sipmsg.StatusForbidden {
				return
			}
			if res.Reason != tlsRequiredReason {
				t.Errorf("reason = %q, expected %q", res.Reason, tlsRequiredReason)
			}
			if warning := res.GetHeader("Warning"); warning == nil || !strings.Contains(warning.Value(), "TLS") {
				t.Errorf("Warning = %v, expected one that asks for TLS", warning)
			}
		})
	}
}

// dialTLSSerial opens a TLS connection to addr and returns it with the
// serial number of the certificate the server presented.
func dialTLSSerial(t *testing.T, addr netip.AddrPort, pool tlstest.Certificate) (*tls.Conn, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: pool.Pool(), MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("dialing %s over TLS: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	peers := conn.ConnectionState().PeerCertificates
	if len(peers) == 0 {
		t.Fatal("the server presented no certificate")
	}
	return conn, peers[0].SerialNumber.Text(16)
}

// optionsOverConn sends an OPTIONS request on conn and returns the status
// line of the response.
func optionsOverConn(t *testing.T, conn *tls.Conn, reader *bufio.Reader, cseq int) string {
	t.Helper()
	local := conn.LocalAddr().String()
	request := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\n"+
		"Via: SIP/2.0/TLS %s;branch=z9hG4bK-reload-%d\r\n"+
		"From: <sip:probe@127.0.0.1>;tag=probe\r\n"+
		"To: <sip:%s>\r\n"+
		"Call-ID: reload-%d@127.0.0.1\r\n"+
		"CSeq: %d OPTIONS\r\n"+
		"Max-Forwards: 70\r\n"+
		"Content-Length: 0\r\n\r\n", conn.RemoteAddr(), local, cseq, conn.RemoteAddr(), cseq, cseq)
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatalf("writing OPTIONS on the open TLS connection: %v", err)
	}
	status, err := reader.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the OPTIONS response on the open TLS connection: %v", err)
	}
	for {
		line, err := reader.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the OPTIONS response headers: %v", err)
		}
		if line == "\r\n" {
			break
		}
	}
	return strings.TrimSpace(status)
}

func TestCertificateReloadKeepsOpenConnections(t *testing.T) {
	dir := t.TempDir()
	first := tlstest.Write(t, dir, "helpline first")
	store := loadTestStore(t, first)
	_, tlsAddr := startTLSNode(t, store, SecurityPolicy{})

	open, serial := dialTLSSerial(t, tlsAddr, first)
	if want := first.Leaf.SerialNumber.Text(16); serial != want {
		t.Fatalf("serial before reload = %s, expected %s", serial, want)
	}
	reader := bufio.NewReader(open)
	if status := optionsOverConn(t, open, reader, 1); status != "SIP/2.0 200 OK" {
		t.Fatalf("OPTIONS before reload = %q, expected 200", status)
	}

	second := tlstest.Write(t, dir, "helpline second")
	if err := store.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if _, serial := dialTLSSerial(t, tlsAddr, second); serial != second.Leaf.SerialNumber.Text(16) {
		t.Errorf("serial after reload = %s, expected the new certificate's %s", serial, second.Leaf.SerialNumber.Text(16))
	}
	if status := optionsOverConn(t, open, reader, 2); status != "SIP/2.0 200 OK" {
		t.Errorf("OPTIONS on the connection opened before reload = %q, expected 200", status)
	}
	if info := store.Info(); info.Subject != "CN=helpline second" {
		t.Errorf("Info().Subject = %q, expected CN=helpline second", info.Subject)
	}
}

func TestCertificateReloadFailureKeepsCertificate(t *testing.T) {
	dir := t.TempDir()
	cert := tlstest.Write(t, dir, "helpline test")
	other := tlstest.Write(t, t.TempDir(), "helpline other")
	store := loadTestStore(t, cert)
	_, tlsAddr := startTLSNode(t, store, SecurityPolicy{})

	otherKey, err := os.ReadFile(other.KeyFile)
	if err != nil {
		t.Fatalf("reading the other key: %v", err)
	}
	tests := []struct {
		name     string
		breakIt  func(t *testing.T)
		wantText string
	}{
		{
			name:     "missing certificate",
			breakIt:  func(t *testing.T) { mustRemove(t, cert.CertFile) },
			wantText: "reading TLS certificate file " + cert.CertFile,
		},
		{
			name:     "key of another certificate",
			breakIt:  func(t *testing.T) { tlstest.Write(t, dir, "helpline test"); mustWrite(t, cert.KeyFile, otherKey) },
			wantText: "loading TLS certificate " + cert.CertFile + " with key " + cert.KeyFile,
		},
		{
			name: "certificate not PEM",
			breakIt: func(t *testing.T) {
				tlstest.Write(t, dir, "helpline test")
				mustWrite(t, cert.CertFile, []byte("not a certificate"))
			},
			wantText: "loading TLS certificate " + cert.CertFile,
		},
		{
			name: "expired certificate",
			breakIt: func(t *testing.T) {
				tlstest.WriteValidity(t, dir, "helpline expired", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
			},
			wantText: "TLS certificate " + cert.CertFile + " expired at ",
		},
		{
			name: "certificate not valid yet",
			breakIt: func(t *testing.T) {
				tlstest.WriteValidity(t, dir, "helpline future", time.Now().Add(time.Hour), time.Now().Add(48*time.Hour))
			},
			wantText: "TLS certificate " + cert.CertFile + " is not valid before ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.breakIt(t)
			err := store.Reload()
			if err == nil {
				t.Fatal("Reload succeeded, expected an error")
			}
			if !strings.Contains(err.Error(), tc.wantText) || !strings.Contains(err.Error(), "previous certificate stays in use until a valid certificate") {
				t.Errorf("error = %q, expected it to contain %q and say the previous certificate stays", err, tc.wantText)
			}
			if _, serial := dialTLSSerial(t, tlsAddr, cert); serial != cert.Leaf.SerialNumber.Text(16) {
				t.Errorf("serial after failed reload = %s, expected the original %s", serial, cert.Leaf.SerialNumber.Text(16))
			}
		})
	}
}

func TestCertificateReloadRejectsValidityPeriod(t *testing.T) {
	dir := t.TempDir()
	cert := tlstest.Write(t, dir, "helpline test")
	store := loadTestStore(t, cert)
	tests := []struct {
		name string
		now  time.Time
	}{
		{name: "after not after", now: cert.Leaf.NotAfter.Add(time.Second)},
		{name: "before not before", now: cert.Leaf.NotBefore.Add(-time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var validity *CertificateValidityError
			if err := store.reloadAt(tc.now); !errors.As(err, &validity) {
				t.Fatalf("reloadAt = %v, expected a *CertificateValidityError", err)
			}
			if validity.File != cert.CertFile {
				t.Errorf("error names file %q, expected %q", validity.File, cert.CertFile)
			}
		})
	}
	if err := store.reloadAt(time.Now()); err != nil {
		t.Errorf("reloadAt within the validity period: %v", err)
	}
}

func TestLoadCertificateStoreAcceptsExpired(t *testing.T) {
	cert := tlstest.WriteValidity(t, t.TempDir(), "helpline expired", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
	store, err := LoadCertificateStore(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatalf("LoadCertificateStore of an expired certificate: %v, expected it to load so the server starts", err)
	}
	if info := store.Info(); !info.NotAfter.Equal(cert.Leaf.NotAfter) {
		t.Errorf("Info().NotAfter = %v, expected %v", info.NotAfter, cert.Leaf.NotAfter)
	}
}

func TestOpensslSerial(t *testing.T) {
	tests := []struct {
		name   string
		serial *big.Int
		want   string
	}{
		{name: "leading zero kept", serial: big.NewInt(0x03b265), want: "03B265"},
		{name: "full byte", serial: big.NewInt(0xabcdef), want: "ABCDEF"},
		{name: "zero", serial: big.NewInt(0), want: "00"},
		{name: "one", serial: big.NewInt(1), want: "01"},
		{name: "negative", serial: big.NewInt(-0x0102), want: "-0102"},
		{name: "nil", serial: nil, want: "00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := opensslSerial(tc.serial); got != tc.want {
				t.Errorf("opensslSerial(%v) = %q, expected %q", tc.serial, got, tc.want)
			}
		})
	}
}

func TestLoadCertificateStoreMissingFile(t *testing.T) {
	_, err := LoadCertificateStore("/nonexistent/cert.pem", "/nonexistent/key.pem")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, expected os.ErrNotExist", err)
	}
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/cert.pem") {
		t.Errorf("error = %v, expected it to name /nonexistent/cert.pem", err)
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatalf("removing %s: %v", path, err)
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

func TestFeatureCallOutsideOfficeNeedsSRTP(t *testing.T) {
	srv := &Server{opts: Options{SecureCounselors: SecurityPolicy{RequiredOutsideOffice: true}}, codecs: []media.Codec{media.PCMU, media.PCMA}}
	req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "*21", Host: "192.0.2.1"})
	req.SetSource("198.51.100.7:5061")
	req.SetTransport("TLS")
	req.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n" +
		"m=audio 5004 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))

	_, _, _, err := srv.prepareFeatureCall(req, nil, zerolog.Nop())
	if !errors.Is(err, media.ErrSRTPRequired) {
		t.Fatalf("prepareFeatureCall of a plain offer from outside = %v, expected ErrSRTPRequired", err)
	}
	if r := rejectionFor(err); r.status != sipmsg.StatusNotAcceptableHere {
		t.Errorf("response = %d %s, expected 488", r.status, r.reason)
	}
}

func TestRelayPhoneOverTLS(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "helpline test")
	srv, tlsAddr := startTLSNode(t, loadTestStore(t, cert), SecurityPolicy{})
	phone := startRelayPhone(t, relayPhoneMode{tls: &tls.Config{RootCAs: cert.Pool(), MinVersion: tls.VersionTLS12}})
	registerRelayPhone(t, phone.relayPeer, tlsAddr)

	invite := relayCallThroughFlow(t, srv, srv.Addrs()[0].Address, phone)
	if got := invite.Transport(); got != "TLS" {
		t.Errorf("INVITE reached the phone over %s, expected TLS", got)
	}
	top := invite.GetHeaders("Record-Route")[0].(*sipmsg.RecordRouteHeader).Address
	if transport, _ := top.UriParams.Get("transport"); transport != "tls" || top.Port != int(tlsAddr.Port()) {
		t.Errorf("phone-facing Record-Route = %s, expected node B's TLS listener %s", top.String(), tlsAddr)
	}
}

func TestTLSMinVersionRejectsOlderClients(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "helpline test")
	srv := startTestNode(t, testNodeSetup{
		listeners: []Listener{{Network: "tls", Address: netip.MustParseAddrPort("127.0.0.1:0")}},
		tls:       loadTestStore(t, cert).ServerConfig(tls.VersionTLS13),
	})
	addr := srv.Addrs()[0].Address.String()

	old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: cert.Pool(), MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
	if err == nil {
		_ = old.Close()
		t.Fatal("a TLS 1.2 client connected to a listener with minimum TLS 1.3")
	}

	current, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: cert.Pool(), MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatalf("a TLS 1.3 client failed to connect: %v", err)
	}
	defer current.Close()
	if got := current.ConnectionState().Version; got != tls.VersionTLS13 {
		t.Errorf("negotiated version %x, expected TLS 1.3", got)
	}
}

func TestInboundLegOverTLSAnswersOnItsConnection(t *testing.T) {
	tests := []struct {
		name            string
		transport       string
		recordRoute     bool
		wantDestination string
	}{
		{name: "tls without record-route", transport: "TLS", wantDestination: "198.51.100.7:50123"},
		{name: "tls through a proxy", transport: "TLS", recordRoute: true, wantDestination: ""},
		{name: "tcp keeps the contact", transport: "TCP", wantDestination: ""},
		{name: "udp keeps the contact", transport: "UDP", wantDestination: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "*21", Host: "192.0.2.1"})
			from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: testUser, Host: "192.0.2.1"}, Params: sipmsg.NewParams()}
			from.Params.Add("tag", "phone")
			req.AppendHeader(from)
			req.AppendHeader(&sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: "*21", Host: "192.0.2.1"}, Params: sipmsg.NewParams()})
			callID := sipmsg.CallIDHeader("inbound-tls")
			req.AppendHeader(&callID)
			req.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: testUser, Host: "198.51.100.7", Port: 5061}})
			if tc.recordRoute {
				req.AppendHeader(&sipmsg.RecordRouteHeader{Address: sipmsg.Uri{Scheme: "sip", Host: "192.0.2.9", UriParams: sipmsg.NewParams()}})
			}
			req.SetTransport(tc.transport)
			req.SetSource("198.51.100.7:50123")

			leg := newInboundLeg(&Server{}, req, nil, zerolog.Nop())
			if leg.dialog.destination != tc.wantDestination {
				t.Errorf("destination = %q, expected %q", leg.dialog.destination, tc.wantDestination)
			}
		})
	}
}

func TestReofferOnSRTPLegKeepsSRTP(t *testing.T) {
	c, leg := testCall(t)
	local, err := media.NewCryptoAttribute(1)
	if err != nil {
		t.Fatalf("NewCryptoAttribute: %v", err)
	}
	remote, err := media.NewCryptoAttribute(1)
	if err != nil {
		t.Fatalf("NewCryptoAttribute: %v", err)
	}
	if err := leg.media.SetSRTP(&media.SRTPKeys{Local: local, Remote: remote}); err != nil {
		t.Fatalf("SetSRTP: %v", err)
	}

	hold := "v=0\r\no=phone 7 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/SAVP 0\r\na=crypto:3 " + strings.TrimPrefix(remote.Value(), "1 ") + "\r\na=sendonly\r\n"
	answer, err := c.reoffer(leg, []byte(hold))
	if err != nil {
		t.Fatalf("reoffer(SRTP hold): %v", err)
	}
	if !strings.Contains(string(answer), "RTP/SAVP") || !strings.Contains(string(answer), "a=crypto:3 "+strings.TrimPrefix(local.Value(), "1 ")) {
		t.Errorf("answer to an SRTP re-offer lacks RTP/SAVP or our key under tag 3:\n%s", answer)
	}

	if _, err := c.reoffer(leg, []byte(offerResume)); !errors.Is(err, media.ErrSRTPRequired) {
		t.Errorf("reoffer(plain RTP) on an SRTP leg = %v, expected ErrSRTPRequired (488)", err)
	}
	if !leg.media.SRTP() {
		t.Error("the leg fell back to plain RTP")
	}
}

func TestDialRetriesOtherProfileAfter488(t *testing.T) {
	cert := tlstest.Write(t, t.TempDir(), "helpline test")
	trustServer := &tls.Config{RootCAs: cert.Pool(), MinVersion: tls.VersionTLS12}
	tests := []struct {
		name      string
		policy    SecurityPolicy
		mode      relayPhoneMode
		wantOffer []string
		wantRing  bool
	}{
		{name: "plain phone over tls", mode: relayPhoneMode{tls: trustServer, rejectProfile: "RTP/SAVP"},
			wantOffer: []string{"RTP/SAVP", "RTP/AVP"}, wantRing: true},
		{name: "srtp phone over udp", mode: relayPhoneMode{rejectProfile: "RTP/AVP"},
			wantOffer: []string{"RTP/AVP", "RTP/SAVP"}, wantRing: true},
		{name: "plain phone that must use srtp", policy: SecurityPolicy{RequiredOutsideOffice: true},
			mode: relayPhoneMode{tls: trustServer, rejectProfile: "RTP/SAVP"}, wantOffer: []string{"RTP/SAVP"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := startTLSNode(t, loadTestStore(t, cert), tc.policy)
			tc.mode.ringOnly = true
			phone := startRelayPhone(t, tc.mode)
			listener, ok := srv.listenerFor(phone.transport)
			if !ok {
				t.Fatalf("no %s listener", phone.transport)
			}
			registerRelayPhone(t, phone.relayPeer, listener.Address)
			binding, ok := srv.registrar.Lookup(testUser)
			if !ok {
				t.Fatal("no binding after REGISTER")
			}

			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			defer cancel()
			// The callers of dial give it a logger that already carries the
			// counselor, so dial's own lines must not add the key again.
			logs := &lockedBuffer{}
			log := zerolog.New(logs).With().Str("counselor", testUser).Logger()
			dr := dialRequest{toUser: testUser, codec: media.PCMU, ringTimeout: testWait, log: log}
			if err := dr.reach(binding); err != nil {
				t.Fatalf("reach: %v", err)
			}
			dialed := make(chan dialOutcome, 1)
			go func() { dialed <- srv.dial(ctx, dr) }()

			var arrivals []time.Time
			for i, want := range tc.wantOffer {
				select {
				case invite := <-phone.invites:
					arrivals = append(arrivals, time.Now())
					if body := string(invite.Body()); !strings.Contains(body, " "+want+" ") {
						t.Errorf("INVITE %d offers %s, expected %s:\n%s", i+1, offerProfileOf(body), want, body)
					}
				case <-ctx.Done():
					t.Fatalf("the phone got no INVITE %d (expected %s)", i+1, want)
				}
			}

			if len(arrivals) == 2 {
				t.Logf("second INVITE arrived %v after the first, 488 round trip included", arrivals[1].Sub(arrivals[0]))
			}
			if tc.wantRing {
				cancel()
			}
			var result dialOutcome
			select {
			case result = <-dialed:
			case <-time.After(testWait):
				t.Fatal("dial did not return")
			}
			if tc.wantRing && result.outcome != routing.CallerGone {
				t.Errorf("outcome = %v (status %d), expected the second offer to ring until cancelled", result.outcome, result.status)
			}
			if !tc.wantRing && result.status != sipmsg.StatusNotAcceptableHere {
				t.Errorf("status = %d, expected the phone's 488", result.status)
			}
			if len(phone.invites) > 0 {
				t.Errorf("the phone got %d more INVITEs than expected", len(phone.invites))
			}
			checkCounselorKeyOnce(t, logs.String())
			if tc.wantRing {
				checkLearnedProfile(t, srv, dr, phone, tc.wantOffer[len(tc.wantOffer)-1])
			}
		})
	}
}

// checkCounselorKeyOnce checks that the 488 lines in logs contain the
// counselor key exactly once.
func checkCounselorKeyOnce(t *testing.T, logs string) {
	t.Helper()
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !strings.Contains(line, "488") {
			continue
		}
		found = true
		if n := strings.Count(line, `"counselor":`); n != 1 {
			t.Errorf("log line has the counselor key %d times, expected once: %s", n, line)
		}
	}
	if !found {
		t.Errorf("no log line about the 488:\n%s", logs)
	}
}

// checkLearnedProfile dials the phone again and checks that the one INVITE
// it gets offers want, the profile it accepted on the previous dial.
func checkLearnedProfile(t *testing.T, srv *Server, dr dialRequest, phone *relayPhone, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	dialed := make(chan dialOutcome, 1)
	go func() { dialed <- srv.dial(ctx, dr) }()

	select {
	case invite := <-phone.invites:
		if body := string(invite.Body()); !strings.Contains(body, " "+want+" ") {
			t.Errorf("the next call offers %s, expected the learned %s:\n%s", offerProfileOf(body), want, body)
		}
	case <-ctx.Done():
		t.Fatal("the phone got no INVITE on the next call")
	}
	cancel()
	select {
	case <-dialed:
	case <-time.After(testWait):
		t.Fatal("the next dial did not return")
	}
	if len(phone.invites) > 0 {
		t.Errorf("the next call sent %d more INVITEs, expected the learned profile alone", len(phone.invites))
	}
}

func TestProfileMemoryOrder(t *testing.T) {
	var memory profileMemory
	phone := dialRequest{toUser: "1001", registerCallID: "register-a"}
	defaults := []mediaProfile{profileSRTP, profilePlain}
	memory.store(phone, profilePlain)

	tests := []struct {
		name     string
		dial     dialRequest
		profiles []mediaProfile
		want     []mediaProfile
	}{
		{name: "same registration", dial: phone, profiles: defaults, want: []mediaProfile{profilePlain, profileSRTP}},
		{name: "new registration", dial: dialRequest{toUser: "1001", registerCallID: "register-b"}, profiles: defaults, want: defaults},
		{name: "other counselor", dial: dialRequest{toUser: "1002", registerCallID: "register-a"}, profiles: defaults, want: defaults},
		{name: "policy allows srtp only", dial: phone, profiles: []mediaProfile{profileSRTP}, want: []mediaProfile{profileSRTP}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := memory.order(tc.dial, tc.profiles); !slices.Equal(got, tc.want) {
				t.Errorf("order = %v, expected %v", got, tc.want)
			}
		})
	}
}

// offerProfileOf returns the transport profile of an SDP body's m= line.
func offerProfileOf(body string) string {
	for line := range strings.Lines(body) {
		if fields := strings.Fields(line); len(fields) > 2 && strings.HasPrefix(fields[0], "m=") {
			return fields[2]
		}
	}
	return "no m= line"
}
