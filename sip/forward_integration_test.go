package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/ivr"
	"helpline/media"
	"helpline/queue"
)

// relayPeer is a sipgo user agent on its own loopback UDP socket: the phone
// registered on node B, or node A placing a call through node B. Over UDP it
// sends from that socket. Over TCP and TLS it sends on connections it opens.
type relayPeer struct {
	// transport is "udp", "tcp" or "tls".
	transport string
	ua        *sipgo.UserAgent
	server    *sipgo.Server
	client    *sipgo.Client
	conn      net.PacketConn
	addr      netip.AddrPort
	contact   sipmsg.ContactHeader
}

// newRelayPeer binds the peer's socket. Register handlers on server, then
// call start.
func newRelayPeer(t *testing.T, user string, mode relayPhoneMode) *relayPeer {
	t.Helper()
	transport := "udp"
	var uaOptions []sipgo.UserAgentOption
	switch {
	case mode.tls != nil:
		transport = "tls"
		uaOptions = append(uaOptions, sipgo.WithUserAgenTLSConfig(mode.tls))
	case mode.tcp:
		transport = "tcp"
	}
	ua := quietUA(t, uaOptions...)
	server, err := sipgo.NewServer(ua, sipgo.WithServerLogger(discardSlog()))
	if err != nil {
		t.Fatalf("create sipgo server: %v", err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	addr := netip.MustParseAddrPort(conn.LocalAddr().String())
	contact := sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: user, Host: addr.Addr().String(), Port: int(addr.Port())}}
	if transport != "udp" {
		contact.Address.UriParams = sipmsg.NewParams()
		contact.Address.UriParams.Add("transport", transport)
	}
	return &relayPeer{transport: transport, ua: ua, server: server, conn: conn, addr: addr, contact: contact}
}

// start serves the socket and creates the client that sends from it.
func (p *relayPeer) start(t *testing.T) {
	t.Helper()
	serveInBackground(t, func() error { return p.server.ServeUDP(p.conn) }, p.conn)
	waitForUDPListener(t, p.ua)
	options := []sipgo.ClientOption{sipgo.WithClientLogger(discardSlog()), sipgo.WithClientHostname(p.addr.Addr().String())}
	if p.transport == "udp" {
		options = append(options, sipgo.WithClientAddr(p.addr.String()), sipgo.WithClientConnectionAddr(p.addr.String()))
	}
	client, err := sipgo.NewClient(p.ua, options...)
	if err != nil {
		t.Fatalf("create sipgo client: %v", err)
	}
	p.client = client
}

// startRelayNode starts a helpline server as node B on a loopback UDP port,
// and on a TCP port too when withTCP is set. It returns the UDP address.
// Its log goes to the test output when the test fails.
func startRelayNode(t *testing.T, withTCP bool) (*Server, netip.AddrPort) {
	t.Helper()
	listeners := []Listener{{Network: "udp", Address: netip.MustParseAddrPort("127.0.0.1:0")}}
	if withTCP {
		listeners = append(listeners, Listener{Network: "tcp", Address: netip.MustParseAddrPort("127.0.0.1:0")})
	}
	srv := startTestNode(t, testNodeSetup{listeners: listeners})
	return srv, srv.Addrs()[0].Address
}

// testNodeSetup is what startTestNode varies between tests.
type testNodeSetup struct {
	listeners []Listener
	tls       *tls.Config
	security  SecurityPolicy
}

// startTestNode starts a helpline server on the given loopback listeners
// with one counselor, testUser. Its log goes to the test output when the
// test fails.
func startTestNode(t *testing.T, setup testNodeSetup) *Server {
	t.Helper()
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node B log:\n%s", logs.String())
		}
	})
	log := zerolog.New(logs).Level(zerolog.DebugLevel)

	registrar, err := NewRegistrar(RegistrarConfig{
		Realm:     testRealm,
		Passwords: map[string]string{testUser: testPassword},
		Logger:    log,
		Security:  setup.security,
	})
	if err != nil {
		t.Fatalf("NewRegistrar: %v", err)
	}
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), 40000, 40100)
	if err != nil {
		t.Fatalf("NewPortRange: %v", err)
	}
	srv, err := New(Options{
		Listen:           setup.listeners,
		TLS:              setup.tls,
		SecureCounselors: setup.security,
		PublicHost:       "127.0.0.1",
		UserAgent:        "helpline-test",
		ServiceUser:      "helpline",
		NodeSources:      []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}, Deps{
		Logger:    log,
		Registrar: registrar,
		Ports:     ports,
		Prompts:   &PromptCache{},
		Graph:     &ivr.Graph{},
		Queue:     queue.NewMemoryStore(),
	})
	if err != nil {
		t.Fatalf("sip.New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
	})
	return srv
}

// registerRelayPhone registers phone as testUser on node with digest
// authentication. node is the listener of the phone's transport.
func registerRelayPhone(t *testing.T, phone *relayPeer, node netip.AddrPort) {
	t.Helper()
	req := newRelayRegister(phone, node)

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	challenge, err := phone.client.Do(ctx, req)
	if err != nil {
		t.Fatalf("send REGISTER: %v", err)
	}
	res, err := phone.client.DoDigestAuth(ctx, req, challenge, sipgo.DigestAuth{Username: testUser, Password: testPassword})
	if err != nil {
		t.Fatalf("send authenticated REGISTER: %v", err)
	}
	if res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("REGISTER status = %d, expected 200", res.StatusCode)
	}
}

// newRelayRegister builds the phone's REGISTER as testUser, without
// credentials, to node over the phone's transport.
func newRelayRegister(phone *relayPeer, node netip.AddrPort) *sipmsg.Request {
	req := sipmsg.NewRequest(sipmsg.REGISTER, sipmsg.Uri{Scheme: "sip", Host: node.Addr().String(), Port: int(node.Port())})
	if phone.transport != "udp" {
		req.SetTransport(sipmsg.NetworkToUpper(phone.transport))
	}
	aor := sipmsg.Uri{Scheme: "sip", User: testUser, Host: testRealm}
	from := &sipmsg.FromHeader{Address: aor, Params: sipmsg.NewParams()}
	from.Params.Add("tag", "phone-register")
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: aor, Params: sipmsg.NewParams()})
	req.AppendHeader(sipmsg.HeaderClone(&phone.contact))
	req.AppendHeader(sipmsg.NewHeader("Expires", "600"))
	return req
}

// relayPhone is the phone's behaviour: it rings, then accepts the call with
// 200 unless ringOnly is set, and reports each request it gets.
type relayPhone struct {
	*relayPeer
	dialogs  *sipgo.DialogServerCache
	ringOnly bool
	// rejectProfile, when set, is an SDP transport profile ("RTP/AVP" or
	// "RTP/SAVP") whose offers the phone rejects with 488.
	rejectProfile string
	// answerSDP is the body of the phone's 200 OK, empty for none.
	answerSDP string

	invites  chan *sipmsg.Request
	acks     chan *sipmsg.Request
	byes     chan *sipmsg.Request
	cancels  chan *sipmsg.Request
	answered chan *sipgo.DialogServerSession
}

// relayPhoneMode sets how a test phone behaves.
type relayPhoneMode struct {
	// ringOnly keeps the phone ringing until the INVITE is cancelled.
	ringOnly bool
	// tcp registers the phone and takes its calls over TCP.
	tcp bool
	// tls, when set, registers the phone and takes its calls over TLS,
	// trusting the server's certificate with this client configuration.
	tls *tls.Config
	// rejectProfile, when set, is an SDP transport profile ("RTP/AVP" or
	// "RTP/SAVP") whose offers the phone rejects with 488.
	rejectProfile string
	// answerSDP, when set, is the SDP answer the phone sends in its 200 OK.
	answerSDP string
}

func startRelayPhone(t *testing.T, mode relayPhoneMode) *relayPhone {
	t.Helper()
	phone := &relayPhone{
		relayPeer:     newRelayPeer(t, testUser, mode),
		ringOnly:      mode.ringOnly,
		rejectProfile: mode.rejectProfile,
		answerSDP:     mode.answerSDP,
		invites:       make(chan *sipmsg.Request, 4),
		acks:          make(chan *sipmsg.Request, 4),
		byes:          make(chan *sipmsg.Request, 4),
		cancels:       make(chan *sipmsg.Request, 4),
		answered:      make(chan *sipgo.DialogServerSession, 4),
	}
	phone.server.OnInvite(phone.handleInvite)
	phone.server.OnAck(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		_ = phone.dialogs.ReadAck(req, tx)
		phone.acks <- req
	})
	phone.server.OnBye(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		_ = phone.dialogs.ReadBye(req, tx)
		phone.byes <- req
	})
	phone.start(t)
	phone.dialogs = sipgo.NewDialogServerCache(phone.client, phone.contact)
	return phone
}

func (p *relayPhone) handleInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	cancelled := make(chan struct{})
	tx.OnCancel(func(cancel *sipmsg.Request) {
		p.cancels <- cancel
		close(cancelled)
	})
	p.invites <- req

	session, err := p.dialogs.ReadInvite(req, tx)
	if err != nil {
		return
	}
	if p.rejectProfile != "" && strings.Contains(string(req.Body()), " "+p.rejectProfile+" ") {
		_ = session.Respond(sipmsg.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		return
	}
	if err := session.Respond(sipmsg.StatusRinging, "Ringing", nil); err != nil {
		return
	}
	if p.ringOnly {
		select {
		case <-cancelled:
		case <-time.After(testWait):
		}
		return
	}
	var body []byte
	var headers []sipmsg.Header
	if p.answerSDP != "" {
		body = []byte(p.answerSDP)
		headers = append(headers, sipmsg.NewHeader("Content-Type", contentSDP))
	}
	// Respond waits for the ACK of the 200.
	if err := session.Respond(sipmsg.StatusOK, "OK", body, headers...); err == nil {
		p.answered <- session
	}
}

// relayCaller is node A: it calls the phone through node B and takes the
// phone's BYE.
type relayCaller struct {
	*relayPeer
	dialogs *sipgo.DialogClientCache
	byes    chan *sipmsg.Request
}

func startRelayCaller(t *testing.T) *relayCaller {
	t.Helper()
	caller := &relayCaller{relayPeer: newRelayPeer(t, "helpline", relayPhoneMode{}), byes: make(chan *sipmsg.Request, 4)}
	caller.server.OnBye(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		_ = caller.dialogs.ReadBye(req, tx)
		caller.byes <- req
	})
	caller.start(t)
	caller.dialogs = sipgo.NewDialogClientCache(caller.client, caller.contact)
	return caller
}

// invite sends an INVITE to the phone's Contact with node B's Path URI for
// flow as Route, over UDP.
func (c *relayCaller) invite(t *testing.T, ctx context.Context, phone *relayPhone, node netip.AddrPort, flowToken string) *sipgo.DialogClientSession {
	t.Helper()
	path := sipmsg.Uri{Scheme: "sip", Host: node.Addr().String(), Port: int(node.Port()), UriParams: sipmsg.NewParams()}
	path.UriParams.Add("transport", "udp")
	path.UriParams.Add("lr", "")
	path.UriParams.Add(flowTokenParam, flowToken)

	req := sipmsg.NewRequest(sipmsg.INVITE, *phone.contact.Address.Clone())
	req.AppendHeader(&sipmsg.RouteHeader{Address: path})
	// The Route decides the transport, whatever the phone's Contact names.
	req.SetTransport("UDP")
	session, err := c.dialogs.WriteInvite(ctx, req)
	if err != nil {
		t.Fatalf("send INVITE: %v", err)
	}
	t.Cleanup(func() { _ = session.Close() })
	return session
}

// receive returns the next value of ch, failing the test after testWait.
func receive[T any](t *testing.T, ch <-chan T, event string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testWait):
		t.Fatalf("no %s within %s", event, testWait)
	}
	var zero T
	return zero
}

// relayCallSetup is a phone registered on node B that accepted a call node
// A placed through B.
type relayCallSetup struct {
	node    netip.AddrPort
	phone   *relayPhone
	caller  *relayCaller
	session *sipgo.DialogClientSession
	answer  *sipgo.DialogServerSession
	invite  *sipmsg.Request
}

func setUpRelayedCall(t *testing.T, ctx context.Context) relayCallSetup {
	t.Helper()
	_, node := startRelayNode(t, false)
	phone := startRelayPhone(t, relayPhoneMode{})
	registerRelayPhone(t, phone.relayPeer, node)
	caller := startRelayCaller(t)

	session := caller.invite(t, ctx, phone, node, FlowToken("udp", phone.addr.String()))
	invite := receive(t, phone.invites, "INVITE at the phone")
	if err := session.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatalf("WaitAnswer: %v", err)
	}
	if err := session.Ack(ctx); err != nil {
		t.Fatalf("send ACK: %v", err)
	}
	receive(t, phone.acks, "ACK at the phone")
	answer := receive(t, phone.answered, "answered dialog at the phone")
	return relayCallSetup{node: node, phone: phone, caller: caller, session: session, answer: answer, invite: invite}
}

func TestRelayInviteReachesPhone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	call := setUpRelayedCall(t, ctx)

	if got := len(call.invite.GetHeaders("Via")); got != 2 {
		t.Errorf("INVITE at the phone has %d Via headers, expected 2", got)
	}
	if mf := call.invite.MaxForwards(); mf == nil || mf.Val() != 69 {
		t.Errorf("Max-Forwards at the phone = %v, expected 69", mf)
	}
	if routes := routeURIs(call.invite); len(routes) != 0 {
		t.Errorf("INVITE at the phone has Routes %v, expected none", routes)
	}
	recordRoutes := call.invite.GetHeaders("Record-Route")
	if len(recordRoutes) != 2 {
		t.Fatalf("INVITE at the phone has %d Record-Route headers, expected 2", len(recordRoutes))
	}
	top := recordRoutes[0].(*sipmsg.RecordRouteHeader).Address
	if direction, _ := top.UriParams.Get(relayDirectionParam); direction != relayDirectionUp {
		t.Errorf("top Record-Route %s has no %s=%s", top.String(), relayDirectionParam, relayDirectionUp)
	}
	if top.Port != int(call.node.Port()) {
		t.Errorf("top Record-Route port = %d, expected node B's %d", top.Port, call.node.Port())
	}
}

func TestRelayByeFromCaller(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	call := setUpRelayedCall(t, ctx)

	if err := call.session.Bye(ctx); err != nil {
		t.Fatalf("BYE from node A: %v", err)
	}

	bye := receive(t, call.phone.byes, "BYE at the phone")
	if got := len(bye.GetHeaders("Via")); got != 2 {
		t.Errorf("BYE at the phone has %d Via headers, expected 2", got)
	}
	if routes := routeURIs(bye); len(routes) != 0 {
		t.Errorf("BYE at the phone has Routes %v, expected none", routes)
	}
}

func TestRelayByeFromPhone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	call := setUpRelayedCall(t, ctx)

	if err := call.answer.Bye(ctx); err != nil {
		t.Fatalf("BYE from the phone: %v", err)
	}

	bye := receive(t, call.caller.byes, "BYE at node A")
	if got := len(bye.GetHeaders("Via")); got != 2 {
		t.Errorf("BYE at node A has %d Via headers, expected 2", got)
	}
	if source := bye.Source(); source == call.phone.addr.String() {
		t.Errorf("BYE at node A came straight from the phone %s, expected through node B", source)
	}
}

func TestRelayCancelReachesPhone(t *testing.T) {
	_, node := startRelayNode(t, false)
	phone := startRelayPhone(t, relayPhoneMode{ringOnly: true})
	registerRelayPhone(t, phone.relayPeer, node)
	caller := startRelayCaller(t)

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	ringing, stopRinging := context.WithCancel(ctx)
	defer stopRinging()
	session := caller.invite(t, ringing, phone, node, FlowToken("udp", phone.addr.String()))

	err := session.WaitAnswer(ringing, sipgo.AnswerOptions{OnResponse: func(res *sipmsg.Response) error {
		if res.StatusCode == sipmsg.StatusRinging {
			stopRinging()
		}
		return nil
	}})

	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitAnswer error = %v, expected context.Canceled after CANCEL", err)
	}
	receive(t, phone.cancels, "CANCEL at the phone")
	if res := session.InviteResponse; res == nil || res.StatusCode != sipmsg.StatusRequestTerminated {
		t.Errorf("final response at node A = %v, expected 487", res)
	}
}

func TestRelayRejectsUnknownFlow(t *testing.T) {
	_, node := startRelayNode(t, false)
	phone := startRelayPhone(t, relayPhoneMode{})
	registerRelayPhone(t, phone.relayPeer, node)
	caller := startRelayCaller(t)

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	otherPort := strconv.Itoa(int(phone.addr.Port()) + 1)
	session := caller.invite(t, ctx, phone, node, "udp~127.0.0.1~"+otherPort)

	err := session.WaitAnswer(ctx, sipgo.AnswerOptions{})

	var rejected *sipgo.ErrDialogResponse
	if !errors.As(err, &rejected) {
		t.Fatalf("WaitAnswer error = %v, expected a rejection", err)
	}
	if rejected.Res.StatusCode != sipmsg.StatusNotFound {
		t.Errorf("status = %d, expected 404", rejected.Res.StatusCode)
	}
	select {
	case <-phone.invites:
		t.Error("the phone got an INVITE for another flow")
	default:
	}
}

func TestRelayPhoneOverTCP(t *testing.T) {
	srv, node := startRelayNode(t, true)
	tcpListener, ok := srv.listenerFor("tcp")
	if !ok {
		t.Fatal("node B has no TCP listener")
	}
	phone := startRelayPhone(t, relayPhoneMode{tcp: true})
	registerRelayPhone(t, phone.relayPeer, tcpListener.Address)

	invite := relayCallThroughFlow(t, srv, node, phone)
	if got := invite.Transport(); got != "TCP" {
		t.Errorf("INVITE reached the phone over %s, expected TCP", got)
	}
	top := invite.GetHeaders("Record-Route")[0].(*sipmsg.RecordRouteHeader).Address
	if transport, _ := top.UriParams.Get("transport"); transport != "tcp" || top.Port != int(tcpListener.Address.Port()) {
		t.Errorf("phone-facing Record-Route = %s, expected node B's TCP listener %s", top.String(), tcpListener.Address)
	}
}

// relayCallThroughFlow has node A call the registered phone through node
// B at node, by the flow token of the phone's binding. The phone answers
// and hangs up. It returns the INVITE the phone got.
func relayCallThroughFlow(t *testing.T, srv *Server, node netip.AddrPort, phone *relayPhone) *sipmsg.Request {
	t.Helper()
	binding, ok := srv.registrar.Lookup(testUser)
	if !ok {
		t.Fatal("no binding after REGISTER")
	}
	caller := startRelayCaller(t)

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	session := caller.invite(t, ctx, phone, node, FlowToken(binding.Transport, binding.Source.String()))
	if err := session.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatalf("WaitAnswer: %v", err)
	}
	if err := session.Ack(ctx); err != nil {
		t.Fatalf("send ACK: %v", err)
	}
	receive(t, phone.acks, "ACK at the phone")
	answer := receive(t, phone.answered, "answered dialog at the phone")
	if err := answer.Bye(ctx); err != nil {
		t.Fatalf("BYE from the phone: %v", err)
	}
	invite := receive(t, phone.invites, "INVITE at the phone")
	receive(t, caller.byes, "BYE at node A")
	return invite
}
