package sip

// Relay of requests that another node routes to a phone registered here.
//
// In shared mode without a front proxy, a phone registers on one node. That
// node stores the binding with a Path (RFC 3327) of its own URI, whose
// hl-flow parameter carries the phone's flow token (see FlowToken). Another
// node reaches the phone by sending its request with that URI as Route.
// The registering node then acts as a stateful, record-routing proxy
// (RFC 3261 section 16) between the other node and the phone.
//
// Record-Route design: the relay inserts two entries, as in the double
// record-routing of RFC 5658. The top entry faces the phone: this node's
// address for the phone's transport, with hl-flow and hl-dir=up. The second
// entry faces the other node: the Route URI that node used. The phone's
// route set is therefore [phone-facing, node-facing] and the other node's
// route set is [node-facing, phone-facing], so the first Route of an
// in-dialog request determines the direction. With hl-dir=up the request comes
// from the phone and goes on to the next Route or the Request-URI; without
// it the request goes to the phone's flow. In both cases the relay removes
// both of its own entries.
//
// The relay never becomes an open relay: a request toward a phone goes only
// to a flow that is a current binding of this node's registrar, and a
// request from a phone is relayed only when it is inside a dialog and
// arrives from that same flow.

import (
	"net/netip"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

const (
	// relayDirectionParam marks the Record-Route entry that faces the phone.
	relayDirectionParam = "hl-dir"
	// relayDirectionUp is its value: requests routed by that entry come
	// from the phone and go up toward the node that placed the call.
	relayDirectionUp = "up"

	// defaultMaxForwards is the Max-Forwards value a relayed request gets
	// when it arrived without one (RFC 3261 section 16.6, step 3).
	defaultMaxForwards = 70
)

// relayAction is the step the relay takes for a request.
type relayAction int

const (
	// relayNone leaves the request to normal handling: its top Route is
	// not this node with a flow token.
	relayNone relayAction = iota
	// relayReject responds to the request with an error status.
	relayReject
	// relayToPhone sends the request to the phone's flow.
	relayToPhone
	// relayFromPhone sends the request from the phone to the next Route,
	// or to the Request-URI when no Route is left.
	relayFromPhone
)

// relayFlow is a phone's flow as observed by this node: the transport and
// the source address of the phone's REGISTER.
type relayFlow struct {
	// transport is lowercase, "udp" or "tcp".
	transport string
	addr      netip.AddrPort
	// token is the flow token as it appeared in the Route.
	token string
}

// relayPlan is the decision for one request, with what relaying it needs.
type relayPlan struct {
	action relayAction

	// status and reason are the response to a rejected request.
	status int
	reason string
	// cause explains a rejection in the log.
	cause string

	flow relayFlow
	// selfRoute is the top Route URI, which names this node. A relayed
	// INVITE records it as the entry that faces the other node.
	selfRoute sipmsg.Uri
	// selfRoutes counts the Route entries at the top that name this node.
	selfRoutes int
	// nextTransport and nextAddr are where a request from the phone goes.
	nextTransport string
	nextAddr      string
}

func rejectPlan(status int, reason, cause string) relayPlan {
	return relayPlan{action: relayReject, status: status, reason: reason, cause: cause}
}

// relayRequest relays req when its top Route names this node and carries a
// flow token, and reports whether it took the request. It runs before any
// other handling, so the Require check, trunk admission, feature codes and
// dialog matching never see a relayed request.
func (s *Server) relayRequest(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	// A CANCEL for a relayed INVITE is taken by the transaction layer,
	// which calls the INVITE's OnCancel hook. One that reaches a handler
	// matches no pending INVITE, so normal handling responds with 481. A
	// REGISTER goes to this node's registrar, whatever its Route contains.
	if req.IsCancel() || req.Method == sipmsg.REGISTER {
		return false
	}

	plan := s.planRelay(req)
	switch plan.action {
	case relayNone:
		return false
	case relayReject:
		s.rejectRelay(req, tx, plan)
		return true
	}

	if req.IsAck() {
		s.relayAck(req, plan)
		return true
	}
	s.relayTransaction(req, tx, plan)
	return true
}

// planRelay decides what the relay does with req (RFC 3261 section 16.3
// and 16.4) without changing it.
func (s *Server) planRelay(req *sipmsg.Request) relayPlan {
	routes := routeURIs(req)
	if len(routes) == 0 || !s.isSelfURI(routes[0]) {
		return relayPlan{action: relayNone}
	}
	token, ok := routes[0].UriParams.Get(flowTokenParam)
	if !ok {
		return relayPlan{action: relayNone}
	}

	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		return rejectPlan(sipmsg.StatusTooManyHops, "Too Many Hops", "Max-Forwards is 0")
	}

	flow, err := parseRelayFlow(token)
	if err != nil {
		return rejectPlan(sipmsg.StatusNotFound, "Not Found", err.Error())
	}
	if _, ok := s.registrar.flowBinding(flow.transport, flow.addr); !ok {
		return rejectPlan(sipmsg.StatusNotFound, "Not Found", "no current binding on this node has the flow")
	}

	plan := relayPlan{flow: flow, selfRoute: *routes[0].Clone(), selfRoutes: s.countSelfRoutes(routes)}
	if direction, _ := routes[0].UriParams.Get(relayDirectionParam); direction == relayDirectionUp {
		return s.planFromPhone(req, routes, plan)
	}
	return s.planToPhone(req, plan)
}

// planToPhone checks a request for the phone's flow. Only the other nodes,
// sending from Options.NodeSources, may reach a phone through this node.
func (s *Server) planToPhone(req *sipmsg.Request, plan relayPlan) relayPlan {
	if requestFromFlow(req, plan.flow) || s.isListenerAddr(plan.flow.addr) {
		return rejectPlan(sipmsg.StatusLoopDetected, "Loop Detected", "the flow is the sender or this node itself")
	}
	if !s.fromNode(req) {
		return rejectPlan(sipmsg.StatusForbidden, "Forbidden", "the sender is not in cluster.node_sources, so it is not a helpline node")
	}
	plan.action = relayToPhone
	return plan
}

// planFromPhone checks a request the phone sends through the relay and
// finds its next hop.
//
// NOTE: the request must come from the exact flow of the binding. A phone
// that opens a new TCP connection during a call, from another port, gets
// 403 until it registers again over that connection.
func (s *Server) planFromPhone(req *sipmsg.Request, routes []sipmsg.Uri, plan relayPlan) relayPlan {
	if !requestFromFlow(req, plan.flow) {
		return rejectPlan(sipmsg.StatusForbidden, "Forbidden", "a request routed from the phone does not come from the phone's flow")
	}
	if !inDialog(req) {
		return rejectPlan(sipmsg.StatusForbidden, "Forbidden", "a request from the phone without a To tag is not relayed")
	}

	next := req.Recipient
	if plan.selfRoutes < len(routes) {
		next = routes[plan.selfRoutes]
	}
	if s.isSelfURI(next) {
		return rejectPlan(sipmsg.StatusLoopDetected, "Loop Detected", "the next hop is this node")
	}

	plan.nextTransport, plan.nextAddr = uriDestination(next)
	plan.action = relayFromPhone
	return plan
}

// rejectRelay responds to a request the relay rejects. An ACK gets no
// response (RFC 3261 section 17.2.3), so it is only logged.
func (s *Server) rejectRelay(req *sipmsg.Request, tx sipmsg.ServerTransaction, plan relayPlan) {
	s.relayLog(req).Warn().Str("source", req.Source()).Int("status", plan.status).Str("cause", plan.cause).
		Msg("relay rejected request")
	if req.IsAck() {
		return
	}
	s.respond(req, tx, plan.status, plan.reason, nil)
}

// parseRelayFlow decodes a flow token from a Route.
func parseRelayFlow(token string) (relayFlow, error) {
	transport, addr, err := ParseFlowToken(token)
	if err != nil {
		return relayFlow{}, err
	}
	source, err := netip.ParseAddrPort(addr)
	if err != nil {
		return relayFlow{}, err
	}
	return relayFlow{transport: transport, addr: source, token: token}, nil
}

// fromNode reports whether req comes from an address of
// Options.NodeSources.
func (s *Server) fromNode(req *sipmsg.Request) bool {
	source, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return false
	}
	addr := source.Addr().Unmap()
	for _, p := range s.opts.NodeSources {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// requestFromFlow reports whether req arrived over flow.
func requestFromFlow(req *sipmsg.Request, flow relayFlow) bool {
	if strings.ToLower(req.Transport()) != flow.transport {
		return false
	}
	source, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return false
	}
	return netip.AddrPortFrom(source.Addr().Unmap(), source.Port()) == flow.addr
}

// inDialog reports whether req carries a To tag.
func inDialog(req *sipmsg.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	tag, _ := to.Params.Get("tag")
	return tag != ""
}

// routeURIs returns the Route URIs of req, top first.
func routeURIs(req *sipmsg.Request) []sipmsg.Uri {
	var uris []sipmsg.Uri
	for _, h := range req.GetHeaders("Route") {
		if route, ok := h.(*sipmsg.RouteHeader); ok {
			uris = append(uris, route.Address)
			continue
		}
		var uri sipmsg.Uri
		if _, err := sipmsg.ParseAddressValue(h.Value(), &uri, nil); err == nil {
			uris = append(uris, uri)
		}
	}
	return uris
}

// flowBinding returns an unexpired binding whose REGISTER came over
// transport from source, that is a phone whose flow ends on this node. It
// reads only the bindings this registrar made itself: a binding that another
// node stored must never make this node relay.
// It scans every binding, which suits the few hundred phones of a
// helpline.
func (r *Registrar) flowBinding(transport string, source netip.AddrPort) (Binding, bool) {
	now := r.now()

	r.mu.Lock()
	defer r.mu.Unlock()

	for _, bindings := range r.bindings {
		for _, binding := range bindings {
			if binding.Transport == transport && binding.Source == source && binding.Expires.After(now) {
				return binding.clone(), true
			}
		}
	}
	return Binding{}, false
}
