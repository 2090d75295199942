package sip

import (
	"context"
	"fmt"
	"sync"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// dialogKey identifies a dialog from this server's side (RFC 3261 12):
// the Call-ID, our tag and the peer's tag.
type dialogKey struct {
	callID    string
	localTag  string
	remoteTag string
}

// incomingKey returns the dialog key of a request the peer sent: our tag is
// in To, theirs in From. ok is false when the request is outside a dialog.
func incomingKey(req *sipmsg.Request) (key dialogKey, ok bool) {
	callID, from, to := req.CallID(), req.From(), req.To()
	if callID == nil || from == nil || to == nil {
		return dialogKey{}, false
	}
	toTag, _ := to.Params.Get("tag")
	fromTag, _ := from.Params.Get("tag")
	if toTag == "" {
		return dialogKey{}, false
	}
	return dialogKey{callID: callID.Value(), localTag: toTag, remoteTag: fromTag}, true
}

// inDialogHandler is a leg that takes requests inside its dialog.
type inDialogHandler interface {
	// handleRequest answers one in-dialog request (BYE, INFO, re-INVITE,
	// UPDATE, OPTIONS) on its transaction.
	handleRequest(req *sipmsg.Request, tx sipmsg.ServerTransaction)
	// handleAck takes an ACK for this leg's 2xx.
	handleAck(req *sipmsg.Request)
}

// inviteKey identifies an INVITE this server sent: its Call-ID and our
// From tag. The peer's tag is not known until its answer.
type inviteKey struct {
	callID   string
	localTag string
}

// dialogTable finds the leg an in-dialog request belongs to.
type dialogTable struct {
	mu sync.Mutex
	// legs is guarded by mu.
	legs map[dialogKey]inDialogHandler
	// dialling maps each INVITE this server sent and has not finished to
	// its leg. It is guarded by mu.
	dialling map[inviteKey]inDialogHandler
}

func newDialogTable() *dialogTable {
	return &dialogTable{
		legs:     make(map[dialogKey]inDialogHandler),
		dialling: make(map[inviteKey]inDialogHandler),
	}
}

// addDialling registers the leg of an INVITE this server sends, until
// removeDialling. See lookupDialling.
func (t *dialogTable) addDialling(key dialogKey, leg inDialogHandler) {
	t.mu.Lock()
	t.dialling[inviteKey{callID: key.callID, localTag: key.localTag}] = leg
	t.mu.Unlock()
}

func (t *dialogTable) removeDialling(key dialogKey) {
	t.mu.Lock()
	delete(t.dialling, inviteKey{callID: key.callID, localTag: key.localTag})
	t.mu.Unlock()
}

// lookupDialling returns the leg of an INVITE still in progress that req
// belongs to, whatever the peer's tag. It finds a BYE that the callee sent
// before this server took its 200 OK, so that the BYE ends the leg
// instead of getting 481 and leaving the leg on the call.
//
// NOTE: the peer's tag is not checked, so with a forking proxy a BYE from
// one fork ends the leg whichever fork answered.
func (t *dialogTable) lookupDialling(req *sipmsg.Request) (inDialogHandler, bool) {
	key, ok := incomingKey(req)
	if !ok {
		return nil, false
	}
	t.mu.Lock()
	leg, found := t.dialling[inviteKey{callID: key.callID, localTag: key.localTag}]
	t.mu.Unlock()
	return leg, found
}

func (t *dialogTable) add(key dialogKey, leg inDialogHandler) {
	t.mu.Lock()
	t.legs[key] = leg
	t.mu.Unlock()
}

func (t *dialogTable) remove(key dialogKey) {
	t.mu.Lock()
	delete(t.legs, key)
	t.mu.Unlock()
}

func (t *dialogTable) lookup(req *sipmsg.Request) (inDialogHandler, bool) {
	key, ok := incomingKey(req)
	if !ok {
		return nil, false
	}
	t.mu.Lock()
	leg, found := t.legs[key]
	t.mu.Unlock()
	return leg, found
}

// dialogState is the state a leg needs to send requests inside its dialog.
type dialogState struct {
	key dialogKey
	// local and remote are the From and To addresses of requests we send.
	local  sipmsg.Uri
	remote sipmsg.Uri
	// target is the peer's Contact URI, the Request-URI of our requests.
	target sipmsg.Uri
	// routes is the route set, in the order our requests carry it.
	routes []sipmsg.Uri
	// destination, when set, is where our requests go (host:port) instead
	// of the address in target: the source of a counselor's REGISTER.
	destination string
	transport   string

	mu sync.Mutex
	// cseq is the last local CSeq number used; guarded by mu.
	cseq uint32
}

// newRequest builds an in-dialog request of the given method with the
// next local CSeq number.
func (d *dialogState) newRequest(method sipmsg.RequestMethod) *sipmsg.Request {
	d.mu.Lock()
	d.cseq++
	cseq := d.cseq
	d.mu.Unlock()
	return d.newRequestWithCSeq(method, cseq)
}

// newRequestWithCSeq builds an in-dialog request with a given CSeq number,
// as an ACK needs the number of the INVITE it acknowledges.
func (d *dialogState) newRequestWithCSeq(method sipmsg.RequestMethod, cseq uint32) *sipmsg.Request {
	req := sipmsg.NewRequest(method, d.target)
	from := &sipmsg.FromHeader{Address: d.local, Params: sipmsg.NewParams()}
	from.Params.Add("tag", d.key.localTag)
	to := &sipmsg.ToHeader{Address: d.remote, Params: sipmsg.NewParams()}
	if d.key.remoteTag != "" {
		to.Params.Add("tag", d.key.remoteTag)
	}
	callID := sipmsg.CallIDHeader(d.key.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: cseq, MethodName: method})
	for _, route := range d.routes {
		req.AppendHeader(&sipmsg.RouteHeader{Address: route})
	}
	if d.transport != "" {
		req.SetTransport(d.transport)
	}
	if d.destination != "" {
		req.SetDestination(d.destination)
	}
	return req
}

// sendRequest sends an in-dialog request and waits for its final response.
func sendRequest(ctx context.Context, c *sipgo.Client, req *sipmsg.Request) (*sipmsg.Response, error) {
	res, err := c.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("sending %s: %w", req.Method, err)
	}
	return res, nil
}
