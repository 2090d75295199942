package sip

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

const (
	// relayTestHost is node B's public host in the relay tests.
	relayTestHost = "node-b.test"
	// relayPhoneSource is the flow of the phone registered on node B.
	relayPhoneSource = "198.51.100.7:40000"
	relayPhoneToken  = "udp~198.51.100.7~40000"
	// relayNodeA is the other node, which places the call.
	relayNodeA = "203.0.113.5:5060"
)

// newRelayTestServer returns a server that is never started, with listeners
// on 192.0.2.10:5060 (UDP and TCP) and one UDP binding of testUser from
// relayPhoneSource that expires after expiresIn.
func newRelayTestServer(t *testing.T, expiresIn time.Duration) *Server {
	t.Helper()
	registrar, err := NewRegistrar(RegistrarConfig{Realm: testRealm, Passwords: map[string]string{testUser: testPassword}})
	if err != nil {
		t.Fatalf("NewRegistrar: %v", err)
	}
	registrar.bindings[testUser] = map[string]Binding{
		"sip:counselor7@10.0.0.7:5062": {
			User:      testUser,
			Contact:   sipmsg.Uri{Scheme: "sip", User: testUser, Host: "10.0.0.7", Port: 5062},
			Source:    netip.MustParseAddrPort(relayPhoneSource),
			Transport: "udp",
			Expires:   time.Now().Add(expiresIn),
			UpdatedAt: time.Now(),
		},
	}
	return &Server{
		opts:      Options{PublicHost: relayTestHost, NodeSources: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}},
		log:       zerolog.Nop(),
		registrar: registrar,
		bound: []Listener{
			{Network: "udp", Address: netip.MustParseAddrPort("192.0.2.10:5060")},
			{Network: "tcp", Address: netip.MustParseAddrPort("192.0.2.10:5060")},
		},
	}
}

// relayRequestSpec describes a request that arrives at node B.
type relayRequestSpec struct {
	method      string
	requestURI  string
	routes      []string
	toTag       string
	maxForwards string
	source      string
}

func (spec relayRequestSpec) build(t *testing.T) *sipmsg.Request {
	t.Helper()
	method := spec.method
	if method == "" {
		method = "INVITE"
	}
	requestURI := spec.requestURI
	if requestURI == "" {
		requestURI = "sip:counselor7@10.0.0.7:5062"
	}
	maxForwards := spec.maxForwards
	if maxForwards == "" {
		maxForwards = "70"
	}
	to := "<sip:counselor7@helpline.test>"
	if spec.toTag != "" {
		to += ";tag=" + spec.toTag
	}

	lines := []string{
		method + " " + requestURI + " SIP/2.0",
		"Via: SIP/2.0/UDP " + relayNodeA + ";branch=z9hG4bK-relay-test",
	}
	for _, route := range spec.routes {
		lines = append(lines, "Route: "+route)
	}
	lines = append(lines,
		"Max-Forwards: "+maxForwards,
		"From: <sip:helpline@node-a.test>;tag=from-a",
		"To: "+to,
		"Call-ID: relay-test-call",
		"CSeq: 1 "+method,
		"Contact: <sip:helpline@"+relayNodeA+">",
		"Content-Length: 0",
		"", "")
	msg, err := sipmsg.ParseMessage([]byte(strings.Join(lines, "\r\n")))
	if err != nil {
		t.Fatalf("parse request: %v", err)
	}
	req := msg.(*sipmsg.Request)
	source := spec.source
	if source == "" {
		source = relayNodeA
	}
	req.SetSource(source)
	req.SetTransport("UDP")
	return req
}

// Route URIs of node B: the Path URI other nodes use, which is also the
// Record-Route entry facing them, and the entry facing the phone.
const (
	nodeFacingRoute  = "<sip:" + relayTestHost + ":5060;transport=udp;lr;hl-flow=" + relayPhoneToken + ">"
	phoneFacingRoute = "<sip:" + relayTestHost + ":5060;transport=udp;lr;hl-flow=" + relayPhoneToken + ";hl-dir=up>"
)

func TestPlanRelay(t *testing.T) {
	tests := []struct {
		name      string
		spec      relayRequestSpec
		expiresIn time.Duration
		action    relayAction
		status    int
		next      string
	}{
		{
			name:   "public host route with local flow",
			spec:   relayRequestSpec{routes: []string{nodeFacingRoute}},
			action: relayToPhone,
		},
		{
			name:   "listener address route with local flow",
			spec:   relayRequestSpec{routes: []string{"<sip:192.0.2.10:5060;lr;hl-flow=" + relayPhoneToken + ">"}},
			action: relayToPhone,
		},
		{
			name:   "route without port means 5060",
			spec:   relayRequestSpec{routes: []string{"<sip:" + relayTestHost + ";lr;hl-flow=" + relayPhoneToken + ">"}},
			action: relayToPhone,
		},
		{
			name:   "in-dialog request from the other node",
			spec:   relayRequestSpec{method: "BYE", toTag: "phone", routes: []string{nodeFacingRoute, phoneFacingRoute}},
			action: relayToPhone,
		},
		{
			name:   "unknown flow",
			spec:   relayRequestSpec{routes: []string{"<sip:" + relayTestHost + ":5060;lr;hl-flow=udp~198.51.100.8~40000>"}},
			action: relayReject,
			status: sipmsg.StatusNotFound,
		},
		{
			name:   "flow on another transport",
			spec:   relayRequestSpec{routes: []string{"<sip:" + relayTestHost + ":5060;lr;hl-flow=tcp~198.51.100.7~40000>"}},
			action: relayReject,
			status: sipmsg.StatusNotFound,
		},
		{
			name:      "expired binding",
			spec:      relayRequestSpec{routes: []string{nodeFacingRoute}},
			expiresIn: -time.Second,
			action:    relayReject,
			status:    sipmsg.StatusNotFound,
		},
		{
			name:   "malformed flow token",
			spec:   relayRequestSpec{routes: []string{"<sip:" + relayTestHost + ":5060;lr;hl-flow=udp~not-an-ip~1>"}},
			action: relayReject,
			status: sipmsg.StatusNotFound,
		},
		{
			name:   "route to another host",
			spec:   relayRequestSpec{routes: []string{"<sip:node-c.test:5060;lr;hl-flow=" + relayPhoneToken + ">"}},
			action: relayNone,
		},
		{
			name:   "route to another port",
			spec:   relayRequestSpec{routes: []string{"<sip:" + relayTestHost + ":5070;lr;hl-flow=" + relayPhoneToken + ">"}},
			action: relayNone,
		},
		{
			name:   "self route without flow token",
			spec:   relayRequestSpec{routes: []string{"<sip:" + relayTestHost + ":5060;lr>"}},
			action: relayNone,
		},
		{
			name:   "no route",
			spec:   relayRequestSpec{},
			action: relayNone,
		},
		{
			name:   "max forwards zero",
			spec:   relayRequestSpec{routes: []string{nodeFacingRoute}, maxForwards: "0"},
			action: relayReject,
			status: sipmsg.StatusTooManyHops,
		},
		{
			name:   "request for the phone from a source that is no node",
			spec:   relayRequestSpec{routes: []string{nodeFacingRoute}, source: "192.0.2.66:5060"},
			action: relayReject,
			status: sipmsg.StatusForbidden,
		},
		{
			name:   "request for the phone sent from its flow",
			spec:   relayRequestSpec{routes: []string{nodeFacingRoute}, source: relayPhoneSource},
			action: relayReject,
			status: sipmsg.StatusLoopDetected,
		},
		{
			name: "in-dialog request from the phone",
			spec: relayRequestSpec{
				method: "BYE", toTag: "from-a", source: relayPhoneSource,
				requestURI: "sip:helpline@" + relayNodeA,
				routes:     []string{phoneFacingRoute, nodeFacingRoute},
			},
			action: relayFromPhone,
			next:   relayNodeA,
		},
		{
			name: "request from the phone with a further route",
			spec: relayRequestSpec{
				method: "BYE", toTag: "from-a", source: relayPhoneSource,
				requestURI: "sip:helpline@" + relayNodeA,
				routes:     []string{phoneFacingRoute, nodeFacingRoute, "<sip:192.0.2.99:5080;transport=tcp;lr>"},
			},
			action: relayFromPhone,
			next:   "192.0.2.99:5080",
		},
		{
			name: "phone direction from another source",
			spec: relayRequestSpec{
				method: "BYE", toTag: "from-a", source: "198.51.100.9:40000",
				requestURI: "sip:helpline@" + relayNodeA,
				routes:     []string{phoneFacingRoute, nodeFacingRoute},
			},
			action: relayReject,
			status: sipmsg.StatusForbidden,
		},
		{
			name: "phone direction outside a dialog",
			spec: relayRequestSpec{
				source: relayPhoneSource, requestURI: "sip:someone@192.0.2.200",
				routes: []string{phoneFacingRoute},
			},
			action: relayReject,
			status: sipmsg.StatusForbidden,
		},
		{
			name: "phone direction back to this node",
			spec: relayRequestSpec{
				method: "BYE", toTag: "from-a", source: relayPhoneSource,
				requestURI: "sip:helpline@" + relayTestHost + ":5060",
				routes:     []string{phoneFacingRoute},
			},
			action: relayReject,
			status: sipmsg.StatusLoopDetected,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expiresIn := tt.expiresIn
			if expiresIn == 0 {
				expiresIn = time.Hour
			}
			s := newRelayTestServer(t, expiresIn)

			plan := s.planRelay(tt.spec.build(t))

			if plan.action != tt.action {
				t.Fatalf("action = %d (cause %q), expected %d", plan.action, plan.cause, tt.action)
			}
			if plan.status != tt.status {
				t.Errorf("status = %d, expected %d", plan.status, tt.status)
			}
			if plan.nextAddr != tt.next {
				t.Errorf("next hop = %q, expected %q", plan.nextAddr, tt.next)
			}
		})
	}
}

func TestRelayRequestRejects(t *testing.T) {
	tests := []struct {
		name   string
		spec   relayRequestSpec
		status int
	}{
		{name: "unknown flow", spec: relayRequestSpec{routes: []string{"<sip:" + relayTestHost + ";lr;hl-flow=udp~198.51.100.8~1>"}}, status: sipmsg.StatusNotFound},
		{name: "max forwards zero", spec: relayRequestSpec{routes: []string{nodeFacingRoute}, maxForwards: "0"}, status: sipmsg.StatusTooManyHops},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRelayTestServer(t, time.Hour)
			tx := newRecordingTx()

			if !s.relayRequest(tt.spec.build(t), tx) {
				t.Fatal("relayRequest left the request to normal handling")
			}

			if len(tx.responses) != 1 {
				t.Fatalf("got %d responses, expected 1", len(tx.responses))
			}
			if got := tx.responses[0].StatusCode; got != tt.status {
				t.Errorf("status = %d, expected %d", got, tt.status)
			}
		})
	}
}

func TestRelayRequestLeavesOthers(t *testing.T) {
	s := newRelayTestServer(t, time.Hour)
	tx := newRecordingTx()

	cancel := relayRequestSpec{method: "CANCEL", routes: []string{nodeFacingRoute}}.build(t)
	if s.relayRequest(cancel, tx) {
		t.Error("relayRequest took a CANCEL that matches no relayed INVITE")
	}
	register := relayRequestSpec{method: "REGISTER", routes: []string{nodeFacingRoute}}.build(t)
	if s.relayRequest(register, tx) {
		t.Error("relayRequest took a REGISTER")
	}
	plain := relayRequestSpec{}.build(t)
	if s.relayRequest(plain, tx) {
		t.Error("relayRequest took a request without Route")
	}
	if len(tx.responses) != 0 {
		t.Errorf("relayRequest answered %d times, expected never", len(tx.responses))
	}
}

func TestBuildRelayRequestToPhone(t *testing.T) {
	s := newRelayTestServer(t, time.Hour)
	req := relayRequestSpec{routes: []string{nodeFacingRoute, "<sip:192.0.2.99;lr>"}, maxForwards: "9"}.build(t)
	plan := s.planRelay(req)

	fwd, err := s.buildRelayRequest(req, plan)
	if err != nil {
		t.Fatalf("buildRelayRequest: %v", err)
	}

	routes := routeURIs(fwd)
	if len(routes) != 1 || routes[0].Host != "192.0.2.99" {
		t.Errorf("routes = %v, expected only the route after this node", routes)
	}
	if mf := fwd.MaxForwards(); mf == nil || mf.Val() != 8 {
		t.Errorf("Max-Forwards = %v, expected 8", mf)
	}
	if req.MaxForwards().Val() != 9 {
		t.Errorf("original Max-Forwards = %d, expected 9 unchanged", req.MaxForwards().Val())
	}
	if fwd.Destination() != relayPhoneSource || fwd.Transport() != "UDP" {
		t.Errorf("sent to %s over %s, expected %s over UDP", fwd.Destination(), fwd.Transport(), relayPhoneSource)
	}

	recordRoutes := fwd.GetHeaders("Record-Route")
	if len(recordRoutes) != 2 {
		t.Fatalf("got %d Record-Route headers, expected 2", len(recordRoutes))
	}
	if got, want := recordRoutes[0].Value(), phoneFacingRoute; got != want {
		t.Errorf("top Record-Route = %s, expected %s", got, want)
	}
	if got, want := recordRoutes[1].Value(), nodeFacingRoute; got != want {
		t.Errorf("second Record-Route = %s, expected %s", got, want)
	}
}

func TestBuildRelayRequestFromPhone(t *testing.T) {
	s := newRelayTestServer(t, time.Hour)
	req := relayRequestSpec{
		method: "BYE", toTag: "from-a", source: relayPhoneSource,
		requestURI: "sip:helpline@" + relayNodeA,
		routes:     []string{phoneFacingRoute, nodeFacingRoute},
	}.build(t)
	req.RemoveHeader("Max-Forwards")
	plan := s.planRelay(req)

	fwd, err := s.buildRelayRequest(req, plan)
	if err != nil {
		t.Fatalf("buildRelayRequest: %v", err)
	}

	if routes := routeURIs(fwd); len(routes) != 0 {
		t.Errorf("routes = %v, expected none", routes)
	}
	if len(fwd.GetHeaders("Record-Route")) != 0 {
		t.Error("an in-dialog request got a Record-Route")
	}
	if mf := fwd.MaxForwards(); mf == nil || mf.Val() != defaultMaxForwards {
		t.Errorf("Max-Forwards = %v, expected %d", mf, defaultMaxForwards)
	}
	if fwd.Destination() != relayNodeA {
		t.Errorf("sent to %s, expected %s", fwd.Destination(), relayNodeA)
	}
}
