package sip

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

// errNoListener means the node has no listener for the transport a
// Record-Route entry needs.
var errNoListener = errors.New("no SIP listener for the transport")

// isSelfURI reports whether u names this node: its host is the public host
// or the address of a listener, and its port (5060 when absent) is the port
// of a listener. A listener on an unspecified address matches every
// address of this machine.
func (s *Server) isSelfURI(u sipmsg.Uri) bool {
	port := u.Port
	if port == 0 {
		port = sipmsg.DefaultPort("udp")
	}
	host := strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]")
	ip, ipErr := netip.ParseAddr(host)

	for _, l := range s.Addrs() {
		if int(l.Address.Port()) != port {
			continue
		}
		if s.opts.PublicHost != "" && strings.EqualFold(host, s.opts.PublicHost) {
			return true
		}
		if ipErr == nil && listenerHasIP(l, ip.Unmap()) {
			return true
		}
	}
	return false
}

// isListenerAddr reports whether addr is one of this node's listening
// sockets.
func (s *Server) isListenerAddr(addr netip.AddrPort) bool {
	for _, l := range s.Addrs() {
		if l.Address.Port() == addr.Port() && listenerHasIP(l, addr.Addr()) {
			return true
		}
	}
	return false
}

func listenerHasIP(l Listener, ip netip.Addr) bool {
	bound := l.Address.Addr().Unmap()
	if bound == ip {
		return true
	}
	return bound.IsUnspecified() && isLocalIP(ip)
}

// isLocalIP reports whether ip belongs to an interface of this machine.
func isLocalIP(ip netip.Addr) bool {
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		prefix, err := netip.ParsePrefix(a.String())
		if err == nil && prefix.Addr().Unmap() == ip {
			return true
		}
	}
	return false
}

// countSelfRoutes counts the Route entries at the top of routes that name
// this node: one for an initial request, two for a request inside a dialog
// that the relay record-routed twice.
func (s *Server) countSelfRoutes(routes []sipmsg.Uri) int {
	n := 0
	for n < len(routes) && s.isSelfURI(routes[n]) {
		n++
	}
	return n
}

// uriDestination returns the transport (lowercase, udp by default) and the
// host:port a request to u is sent to.
func uriDestination(u sipmsg.Uri) (transport, addr string) {
	transport = "udp"
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToLower(t)
	}
	port := u.Port
	if port == 0 {
		port = sipmsg.DefaultPort(transport)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]")
	return transport, net.JoinHostPort(host, strconv.Itoa(port))
}

// phoneFacingRoute builds the Record-Route URI that the phone uses to reach
// this node: the public host (or the listener's address) and the port of
// the listener for the phone's transport, with the flow token and
// hl-dir=up. fallbackHost is used when the listener is bound to an
// unspecified address and no public host is set.
func (s *Server) phoneFacingRoute(flow relayFlow, fallbackHost string) (sipmsg.Uri, error) {
	listener, ok := s.listenerFor(flow.transport)
	if !ok {
		return sipmsg.Uri{}, errNoListener
	}

	host := s.opts.PublicHost
	if host == "" {
		host = fallbackHost
		if !listener.Address.Addr().IsUnspecified() {
			host = listener.Address.Addr().String()
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() {
		host = "[" + host + "]"
	}

	uri := sipmsg.Uri{Scheme: "sip", Host: host, Port: int(listener.Address.Port()), UriParams: sipmsg.NewParams()}
	uri.UriParams.Add("transport", flow.transport)
	uri.UriParams.Add("lr", "")
	uri.UriParams.Add(flowTokenParam, flow.token)
	uri.UriParams.Add(relayDirectionParam, relayDirectionUp)
	return uri, nil
}

// listenerFor returns the first listener of the given transport.
func (s *Server) listenerFor(transport string) (Listener, bool) {
	network := transportNetwork(transport)
	for _, l := range s.Addrs() {
		if l.Network == network {
			return l, true
		}
	}
	return Listener{}, false
}

// relayLog is the logger for one relayed request. It carries no
// Request-URI or From, which may hold a phone number.
func (s *Server) relayLog(req *sipmsg.Request) *zerolog.Logger {
	ctx := s.log.With().Str("component", "relay").Str("method", string(req.Method))
	if callID := req.CallID(); callID != nil {
		ctx = ctx.Str("call_id", callID.Value())
	}
	log := ctx.Logger()
	return &log
}
