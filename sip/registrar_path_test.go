package sip

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/media"
)

// Path URIs a front proxy could add; the first carries the phone's
// received address, as Kamailio's add_path_received() writes it.
const (
	proxyPath = "sip:127.0.0.1:5070;received=sip:127.0.0.1:40000;lr"
	outerPath = "sip:edge.example.test;transport=tcp;lr"
	thirdPath = "sip:[::1]:5090;lr"
)

func TestRegisterStoresPath(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{
		toUser: testUser, callID: "call-path", cseq: 1,
		path:      []string{"<" + proxyPath + ">, <" + outerPath + ">", "<" + thirdPath + ">"},
		supported: "replaces, path",
	}

	res := env.register(t, client, spec, "MD5", testUser, testPassword)
	if res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}

	binding, ok := env.registrar.Lookup(testUser)
	if !ok {
		t.Fatal("Lookup found no binding")
	}
	want := []string{proxyPath, outerPath, thirdPath}
	if !slices.Equal(binding.Path, want) {
		t.Errorf("Path = %q, want %q", binding.Path, want)
	}
	echo := res.GetHeaders("Path")
	if len(echo) != 1 {
		t.Fatalf("200 carries %d Path headers, want 1", len(echo))
	}
	if got := echo[0].Value(); got != "<"+proxyPath+">, <"+outerPath+">, <"+thirdPath+">" {
		t.Errorf("200 Path = %q, want the stored Path in order", got)
	}
}

func TestRegisterPathWithoutSupported(t *testing.T) {
	env := startRegistrar(t, nil)
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, callID: "call-path-unsupported", cseq: 1, path: []string{"<" + proxyPath + ">"}}

	res := env.register(t, client, spec, "MD5", testUser, testPassword)
	if res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}

	binding, ok := env.registrar.Lookup(testUser)
	if !ok {
		t.Fatal("Lookup found no binding")
	}
	if !slices.Equal(binding.Path, []string{proxyPath}) {
		t.Errorf("Path = %q, want %q", binding.Path, proxyPath)
	}
	if echo := res.GetHeaders("Path"); len(echo) != 0 {
		t.Errorf("200 echoes Path %v to a phone that does not support path", echo)
	}
}

func TestRegisterMalformedPath(t *testing.T) {
	tests := map[string]string{
		"no angle brackets": "sip:127.0.0.1:5070;lr",
		"not a sip uri":     "<tel:+15551234>",
		"no host":           "<sip:;lr>",
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			env := startRegistrar(t, nil)
			client := newTestClient(t, "127.0.0.1")
			spec := registerSpec{toUser: testUser, callID: "call-bad-path", cseq: 1, path: []string{value}}

			res := env.register(t, client, spec, "MD5", testUser, testPassword)
			if res.StatusCode != sipmsg.StatusBadRequest {
				t.Errorf("status = %d, want 400", res.StatusCode)
			}
			if _, ok := env.registrar.Lookup(testUser); ok {
				t.Error("a REGISTER with a malformed Path created a binding")
			}
		})
	}
}

func TestSplitHeaderList(t *testing.T) {
	got := splitHeaderList(`<sip:a;lr>, "Edge, west" <sip:b;lr>;x=1 ,<sip:c?h=1,2>,`)
	want := []string{"<sip:a;lr>", `"Edge, west" <sip:b;lr>;x=1`, "<sip:c?h=1,2>"}
	if !slices.Equal(got, want) {
		t.Errorf("splitHeaderList = %q, want %q", got, want)
	}
}

func TestBindingNextHop(t *testing.T) {
	source := netip.MustParseAddrPort("192.0.2.7:5062")
	tests := []struct {
		name            string
		binding         Binding
		wantDestination string
		wantTransport   string
		wantRoute       []string
	}{
		{
			name:            "no path goes to the source",
			binding:         Binding{Source: source, Transport: "udp"},
			wantDestination: "192.0.2.7:5062",
			wantTransport:   "udp",
		},
		{
			name:            "path goes to the first hop",
			binding:         Binding{Source: source, Transport: "udp", Path: []string{proxyPath, outerPath}},
			wantDestination: "127.0.0.1:5070",
			wantTransport:   "udp",
			wantRoute:       []string{proxyPath, outerPath},
		},
		{
			name:            "first hop without port uses 5060 and its transport",
			binding:         Binding{Source: source, Transport: "udp", Path: []string{outerPath}},
			wantDestination: "edge.example.test:5060",
			wantTransport:   "tcp",
			wantRoute:       []string{outerPath},
		},
		{
			name:            "ipv6 first hop",
			binding:         Binding{Source: source, Transport: "udp", Path: []string{thirdPath}},
			wantDestination: "[::1]:5090",
			wantTransport:   "udp",
			wantRoute:       []string{thirdPath},
		},
		{
			name:            "own path of this node goes to the flow",
			binding:         Binding{Source: source, Transport: "tcp", Path: []string{"sip:10.0.0.1:5060;transport=udp;lr;hl-flow=tcp~192.0.2.7~5062"}, direct: true},
			wantDestination: "192.0.2.7:5062",
			wantTransport:   "tcp",
		},
		{
			name:            "own path of another node goes to that node",
			binding:         Binding{Source: source, Transport: "tcp", Path: []string{"sip:10.0.0.1:5060;transport=udp;lr;hl-flow=tcp~192.0.2.7~5062"}},
			wantDestination: "10.0.0.1:5060",
			wantTransport:   "udp",
			wantRoute:       []string{"sip:10.0.0.1:5060;transport=udp;lr;hl-flow=tcp~192.0.2.7~5062"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hop, err := tc.binding.NextHop()
			if err != nil {
				t.Fatalf("NextHop: %v", err)
			}
			if hop.Destination != tc.wantDestination {
				t.Errorf("Destination = %s, want %s", hop.Destination, tc.wantDestination)
			}
			if hop.Transport != tc.wantTransport {
				t.Errorf("Transport = %s, want %s", hop.Transport, tc.wantTransport)
			}
			if got := uriStrings(hop.Route); !slices.Equal(got, tc.wantRoute) {
				t.Errorf("Route = %q, want %q", got, tc.wantRoute)
			}
			if got := tc.binding.Destination(); got != tc.wantDestination {
				t.Errorf("Binding.Destination = %s, want %s", got, tc.wantDestination)
			}
		})
	}
}

func TestBindingNextHopInvalidPath(t *testing.T) {
	binding := Binding{User: testUser, Source: netip.MustParseAddrPort("192.0.2.7:5062"), Transport: "udp", Path: []string{"tel:+15551234"}}
	if _, err := binding.NextHop(); err == nil {
		t.Error("NextHop accepted a Path that is not a sip uri")
	}
}

func uriStrings(uris []sipmsg.Uri) []string {
	var out []string
	for _, uri := range uris {
		out = append(out, uri.String())
	}
	return out
}

func routeValues(req *sipmsg.Request) []string {
	var out []string
	for _, header := range req.GetHeaders("Route") {
		out = append(out, strings.Trim(header.Value(), "<>"))
	}
	return out
}

// pathLeg builds the INVITE for a counselor registered through two
// proxies, as dial does, without sending it.
func pathLeg(t *testing.T) (*outboundLeg, *sipmsg.Request) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("opening an RTP socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })

	contact := sipmsg.Uri{Scheme: "sip", User: "1001", Host: "192.168.1.20", Port: 5062}
	binding := Binding{User: "1001", Contact: contact, Source: netip.MustParseAddrPort("127.0.0.1:5070"), Transport: "udp", Path: []string{proxyPath, outerPath}}
	d := dialRequest{toUser: "1001", codec: media.PCMU, log: zerolog.Nop()}
	if err := d.reach(binding); err != nil {
		t.Fatalf("reach: %v", err)
	}

	srv := &Server{opts: Options{PublicHost: "127.0.0.1", ServiceUser: "helpline"}}
	leg, invite, err := srv.newOutboundInvite(d, profilePlain, conn)
	if err != nil {
		t.Fatalf("newOutboundInvite: %v", err)
	}
	return leg, invite
}

func TestInviteThroughPath(t *testing.T) {
	_, invite := pathLeg(t)

	if got := invite.Recipient.String(); got != "sip:1001@192.168.1.20:5062" {
		t.Errorf("Request-URI = %s, want the Contact", got)
	}
	if got := invite.Destination(); got != "127.0.0.1:5070" {
		t.Errorf("INVITE destination = %s, want the first Path hop", got)
	}
	if got := routeValues(invite); !slices.Equal(got, []string{proxyPath, outerPath}) {
		t.Errorf("INVITE Route = %q, want the Path", got)
	}

	cancel := newCancel(invite, "")
	if got := cancel.Destination(); got != "127.0.0.1:5070" {
		t.Errorf("CANCEL destination = %s, want the first Path hop", got)
	}
	if got := routeValues(cancel); !slices.Equal(got, []string{proxyPath, outerPath}) {
		t.Errorf("CANCEL Route = %q, want the Path", got)
	}
}

func TestInDialogRouteSet(t *testing.T) {
	t.Run("record-route replaces the path", func(t *testing.T) {
		leg, invite := pathLeg(t)
		res := sipmsg.NewResponseFromRequest(invite, sipmsg.StatusOK, "OK", nil)
		// The callee's side of the route comes last in Record-Route.
		res.AppendHeader(&sipmsg.RecordRouteHeader{Address: sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5071, UriParams: sipmsg.HeaderParams{{K: "lr", V: ""}}}})
		res.AppendHeader(&sipmsg.RecordRouteHeader{Address: sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5070, UriParams: sipmsg.HeaderParams{{K: "lr", V: ""}}}})
		res.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "1001", Host: "192.168.1.20", Port: 5062}})
		leg.confirm(res)

		bye := leg.dialog.newRequest(sipmsg.BYE)
		if got := routeValues(bye); !slices.Equal(got, []string{"sip:127.0.0.1:5070;lr", "sip:127.0.0.1:5071;lr"}) {
			t.Errorf("BYE Route = %q, want the Record-Route set reversed", got)
		}
		if got := bye.Destination(); got != "127.0.0.1:5070" {
			t.Errorf("BYE destination = %s, want the first route", got)
		}
	})

	t.Run("path stays without record-route", func(t *testing.T) {
		leg, invite := pathLeg(t)
		res := sipmsg.NewResponseFromRequest(invite, sipmsg.StatusOK, "OK", nil)
		leg.confirm(res)

		bye := leg.dialog.newRequest(sipmsg.BYE)
		if got := routeValues(bye); !slices.Equal(got, []string{proxyPath, outerPath}) {
			t.Errorf("BYE Route = %q, want the Path", got)
		}
		if got := bye.Destination(); got != "127.0.0.1:5070" {
			t.Errorf("BYE destination = %s, want the first Path hop", got)
		}
	})
}
