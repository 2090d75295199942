package redisbindings_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"helpline/internal/redistest"
	"helpline/sip"
	"helpline/sip/redisbindings"
)

const (
	realm    = "helpline.test"
	user     = "1001"
	password = "secret-1001"
	// waitLimit bounds every wait for a change in Redis.
	waitLimit = 10 * time.Second
	pollEvery = 20 * time.Millisecond
)

// kamailioPath is a Path that a front proxy adds to a REGISTER.
const kamailioPath = "sip:127.0.0.1:5070;received=sip:127.0.0.1:40000;lr"

// node is one registrar of a shared setup with the changes it reported.
type node struct {
	registrar *sip.Registrar
	changes   chan bool
}

// recordingTx is a server transaction that keeps the responses sent on it.
type recordingTx struct {
	mu        sync.Mutex
	responses []*sipmsg.Response
}

func (tx *recordingTx) Terminate()                            {}
func (tx *recordingTx) OnTerminate(sipmsg.FnTxTerminate) bool { return true }
func (tx *recordingTx) Done() <-chan struct{}                 { return nil }
func (tx *recordingTx) Err() error                            { return nil }
func (tx *recordingTx) Acks() <-chan *sipmsg.Request          { return nil }
func (tx *recordingTx) OnCancel(sipmsg.FnTxCancel) bool       { return true }
func (tx *recordingTx) Respond(res *sipmsg.Response) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.responses = append(tx.responses, res)
	return nil
}

func (tx *recordingTx) last(t *testing.T) *sipmsg.Response {
	t.Helper()
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if len(tx.responses) == 0 {
		t.Fatal("the registrar sent no response")
	}
	return tx.responses[len(tx.responses)-1]
}

func startNode(t *testing.T, ctx context.Context, store sip.BindingStore, id, address string) *node {
	t.Helper()
	n := &node{changes: make(chan bool, 16)}
	registrar, err := sip.NewRegistrar(sip.RegistrarConfig{
		Realm:          realm,
		Passwords:      map[string]string{user: password},
		MinExpires:     time.Second,
		DefaultExpires: time.Hour,
		Logger:         zerolog.Nop(),
		OnChange:       func(_ string, registered bool) { n.changes <- registered },
		Shared:         store,
		Node:           id,
		NodeAddresses:  map[string]string{"udp": address},
	})
	if err != nil {
		t.Fatalf("NewRegistrar for node %s: %v", id, err)
	}
	n.registrar = registrar
	go registrar.Run(ctx)
	return n
}

// registerSpec is one REGISTER from a phone.
type registerSpec struct {
	source  string
	contact string
	expires string
	path    string
	callID  string
}

func newRegister(spec registerSpec, cseq uint32, authorization string) *sipmsg.Request {
	req := sipmsg.NewRequest(sipmsg.REGISTER, sipmsg.Uri{Scheme: "sip", Host: realm})
	aor := sipmsg.Uri{Scheme: "sip", User: user, Host: realm}
	from := &sipmsg.FromHeader{Address: aor, Params: sipmsg.NewParams()}
	from.Params.Add("tag", "phone")
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: aor, Params: sipmsg.NewParams()})
	callID := sipmsg.CallIDHeader(spec.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: cseq, MethodName: sipmsg.REGISTER})
	req.AppendHeader(sipmsg.NewHeader("Contact", "<"+spec.contact+">"))
	if spec.expires != "" {
		req.AppendHeader(sipmsg.NewHeader("Expires", spec.expires))
	}
	if spec.path != "" {
		req.AppendHeader(sipmsg.NewHeader("Path", "<"+spec.path+">"))
	}
	if authorization != "" {
		req.AppendHeader(sipmsg.NewHeader("Authorization", authorization))
	}
	req.SetSource(spec.source)
	req.SetTransport("UDP")
	return req
}

// register sends spec to n, computes credentials for the digest
// challenge, sends it again and fails the test unless the registrar
// accepts it.
func (n *node) register(t *testing.T, spec registerSpec) {
	t.Helper()
	// sipgo parses a Contact header only when it reads a message, so the
	// request goes through the parser as a phone's would.
	parse := func(req *sipmsg.Request) *sipmsg.Request {
		msg, err := sipmsg.ParseMessage([]byte(req.String()))
		if err != nil {
			t.Fatalf("parse REGISTER: %v", err)
		}
		parsed := msg.(*sipmsg.Request)
		parsed.SetSource(spec.source)
		parsed.SetTransport("UDP")
		return parsed
	}

	first := &recordingTx{}
	n.registrar.HandleRegister(parse(newRegister(spec, 1, "")), first)
	challenge := first.last(t)
	if challenge.StatusCode != sipmsg.StatusUnauthorized {
		t.Fatalf("first REGISTER status = %d, want 401", challenge.StatusCode)
	}
	parsed, err := digest.ParseChallenge(challenge.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatalf("parse challenge: %v", err)
	}
	req := newRegister(spec, 2, "")
	credentials, err := digest.Digest(parsed, digest.Options{Method: "REGISTER", URI: req.Recipient.Addr(), Username: user, Password: password})
	if err != nil {
		t.Fatalf("compute digest: %v", err)
	}

	second := &recordingTx{}
	n.registrar.HandleRegister(parse(newRegister(spec, 2, credentials.String())), second)
	if res := second.last(t); res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("REGISTER status = %d %s, want 200", res.StatusCode, res.Reason)
	}
}

func (n *node) waitChange(t *testing.T, want bool) {
	t.Helper()
	select {
	case got := <-n.changes:
		if got != want {
			t.Fatalf("OnChange registered = %v, want %v", got, want)
		}
	case <-time.After(waitLimit):
		t.Fatalf("no OnChange(%v) within %s", want, waitLimit)
	}
}

func (n *node) noChange(t *testing.T) {
	t.Helper()
	select {
	case got := <-n.changes:
		t.Fatalf("unexpected OnChange registered = %v", got)
	default:
	}
}

// storedRecords returns the decoded value of user's key.
func storedRecords(t *testing.T, client *redis.Client) []map[string]any {
	t.Helper()
	raw, err := client.Get(context.Background(), redisbindings.Key(user)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		t.Fatalf("GET %s: %v", redisbindings.Key(user), err)
	}
	var records []map[string]any
	if err := json.Unmarshal(raw, &records); err != nil {
		t.Fatalf("value of %s is not a JSON array: %v: %s", redisbindings.Key(user), err, raw)
	}
	return records
}

type sharedSetup struct {
	client *redis.Client
	a, b   *node
}

func startShared(t *testing.T) sharedSetup {
	t.Helper()
	server := redistest.Start(t)
	client := server.Client(t)
	store := redisbindings.New(client)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return sharedSetup{
		client: client,
		a:      startNode(t, ctx, store, "a", "10.0.0.1:5060"),
		b:      startNode(t, ctx, store, "b", "10.0.0.2:5060"),
	}
}

func TestBindingOfAnotherNode(t *testing.T) {
	s := startShared(t)
	s.a.register(t, registerSpec{source: "127.0.0.1:5062", contact: "sip:1001@192.168.1.20:5062", callID: "phone-1"})
	s.a.waitChange(t, true)

	records := storedRecords(t, s.client)
	if len(records) != 1 || records[0]["node"] != "a" {
		t.Fatalf("stored bindings = %v, want one of node a", records)
	}
	ttl, err := s.client.PTTL(context.Background(), redisbindings.Key(user)).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("key TTL = %s (%v), want the binding's hour", ttl, err)
	}

	ownPath := "sip:10.0.0.1:5060;transport=udp;lr;hl-flow=udp~127.0.0.1~5062"
	local, ok := s.a.registrar.Lookup(user)
	if !ok {
		t.Fatal("node a found no binding")
	}
	if !slices.Equal(local.Path, []string{ownPath}) || local.Node != "a" {
		t.Errorf("node a binding Path = %q, Node = %q; want %q and a", local.Path, local.Node, ownPath)
	}
	if hop, err := local.NextHop(); err != nil || hop.Destination != "127.0.0.1:5062" || len(hop.Route) != 0 {
		t.Errorf("node a next hop = %+v (%v), want the phone's flow without Route", hop, err)
	}

	remote, ok := s.b.registrar.Lookup(user)
	if !ok {
		t.Fatal("node b found no binding in Redis")
	}
	if remote.Node != "a" || remote.Contact.String() != "sip:1001@192.168.1.20:5062" || remote.Source != netip.MustParseAddrPort("127.0.0.1:5062") {
		t.Errorf("node b binding = %+v, want node a's binding", remote)
	}
	hop, err := remote.NextHop()
	if err != nil {
		t.Fatalf("NextHop on node b: %v", err)
	}
	if hop.Destination != "10.0.0.1:5060" || len(hop.Route) != 1 || hop.Route[0].String() != ownPath {
		t.Errorf("node b next hop = %s with Route %v, want node a's Path %s", hop.Destination, hop.Route, ownPath)
	}
	s.b.noChange(t)
}

func TestProxyPathShared(t *testing.T) {
	s := startShared(t)
	s.a.register(t, registerSpec{source: "127.0.0.1:5070", contact: "sip:1001@127.0.0.1:40000", path: kamailioPath, callID: "phone-proxy"})

	for name, n := range map[string]*node{"a": s.a, "b": s.b} {
		binding, ok := n.registrar.Lookup(user)
		if !ok {
			t.Fatalf("node %s found no binding", name)
		}
		hop, err := binding.NextHop()
		if err != nil {
			t.Fatalf("NextHop on node %s: %v", name, err)
		}
		if hop.Destination != "127.0.0.1:5070" || len(hop.Route) != 1 || hop.Route[0].String() != kamailioPath {
			t.Errorf("node %s next hop = %s with Route %v, want the proxy's Path", name, hop.Destination, hop.Route)
		}
	}
}

func TestUnregisterRemovesSharedBinding(t *testing.T) {
	s := startShared(t)
	spec := registerSpec{source: "127.0.0.1:5062", contact: "sip:1001@127.0.0.1:5062", callID: "phone-1"}
	s.a.register(t, spec)
	s.a.waitChange(t, true)

	spec.expires = "0"
	spec.callID = "phone-1-end"
	s.a.register(t, spec)
	s.a.waitChange(t, false)

	if n, err := s.client.Exists(context.Background(), redisbindings.Key(user)).Result(); err != nil || n != 0 {
		t.Errorf("key %s still exists (%d, %v) after the last binding was removed", redisbindings.Key(user), n, err)
	}
	if binding, ok := s.b.registrar.Lookup(user); ok {
		t.Errorf("node b still finds %+v", binding)
	}
}

func TestExpiredBindingLeavesRedis(t *testing.T) {
	s := startShared(t)
	s.a.register(t, registerSpec{source: "127.0.0.1:5062", contact: "sip:1001@127.0.0.1:5062", expires: "1", callID: "phone-short"})
	s.a.waitChange(t, true)

	s.a.waitChange(t, false)
	deadline := time.Now().Add(waitLimit)
	for len(storedRecords(t, s.client)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("expired binding still stored after %s: %v", waitLimit, storedRecords(t, s.client))
		}
		time.Sleep(pollEvery)
	}
	if _, ok := s.b.registrar.Lookup(user); ok {
		t.Error("node b finds an expired binding")
	}
}

func TestLogoutWaitsForLastNode(t *testing.T) {
	s := startShared(t)
	desk := registerSpec{source: "127.0.0.1:5062", contact: "sip:1001@127.0.0.1:5062", callID: "desk"}
	mobile := registerSpec{source: "127.0.0.1:5064", contact: "sip:1001@127.0.0.1:5064", callID: "mobile"}
	s.a.register(t, desk)
	s.a.waitChange(t, true)
	s.b.register(t, mobile)
	s.b.waitChange(t, true)
	if records := storedRecords(t, s.client); len(records) != 2 {
		t.Fatalf("stored bindings = %v, want one per node", records)
	}

	desk.expires, desk.callID = "0", "desk-end"
	s.a.register(t, desk)
	// HandleRegister delivers changes before it returns, so a logout would
	// already be in the channel.
	s.a.noChange(t)

	mobile.expires, mobile.callID = "0", "mobile-end"
	s.b.register(t, mobile)
	s.b.waitChange(t, false)
}

func TestLoadSkipsExpiredAndBadEntries(t *testing.T) {
	server := redistest.Start(t)
	client := server.Client(t)
	store := redisbindings.New(client)
	ctx := context.Background()
	now := time.Now()

	value := fmt.Sprintf(`[
		{"user":"1001","node":"a","contact":"sip:1001@127.0.0.1:5062","source":"127.0.0.1:5062","transport":"udp","expires_ms":%d,"updated_ms":%d},
		{"user":"1001","node":"b","contact":"sip:1001@127.0.0.1:5064","source":"127.0.0.1:5064","transport":"udp","expires_ms":%d,"updated_ms":%d},
		{"user":"1001","node":"c","contact":"sip:1001@127.0.0.1:5066","source":"not an address","transport":"udp","expires_ms":%d,"updated_ms":%d}
	]`, now.Add(-time.Second).UnixMilli(), now.Add(-time.Minute).UnixMilli(),
		now.Add(time.Minute).UnixMilli(), now.UnixMilli(),
		now.Add(time.Minute).UnixMilli(), now.UnixMilli())
	if err := client.Set(ctx, redisbindings.Key(user), value, time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}

	bindings, err := store.LoadBindings(ctx, user, now)
	if err != nil {
		t.Fatalf("LoadBindings: %v", err)
	}
	if len(bindings) != 1 || bindings[0].Node != "b" {
		t.Errorf("LoadBindings = %+v, want only node b's binding", bindings)
	}
}

func TestSaveReplacesCorruptValue(t *testing.T) {
	server := redistest.Start(t)
	client := server.Client(t)
	store := redisbindings.New(client)
	ctx := context.Background()
	now := time.Now()

	if err := client.Set(ctx, redisbindings.Key(user), "not json", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	binding := sip.Binding{
		User: user, Node: "a", Contact: sipmsg.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: 5062},
		Source: netip.MustParseAddrPort("127.0.0.1:5062"), Transport: "udp", Expires: now.Add(time.Minute), UpdatedAt: now,
	}
	if err := store.SaveBindings(ctx, "a", user, []sip.Binding{binding}, now); err != nil {
		t.Fatalf("SaveBindings: %v", err)
	}

	bindings, err := store.LoadBindings(ctx, user, now)
	if err != nil {
		t.Fatalf("LoadBindings: %v", err)
	}
	if len(bindings) != 1 || bindings[0].Contact.String() != "sip:1001@127.0.0.1:5062" {
		t.Errorf("LoadBindings = %+v, want the saved binding", bindings)
	}
}
