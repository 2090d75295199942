package sip

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// memoryBindings is a BindingStore in memory, for tests of the registrar
// alone. Package redisbindings tests the Redis store.
type memoryBindings struct {
	mu sync.Mutex
	// saved maps node and user to the last bindings saved; guarded by mu.
	saved map[[2]string][]Binding
}

func (m *memoryBindings) SaveBindings(_ context.Context, node, user string, bindings []Binding, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.saved == nil {
		m.saved = make(map[[2]string][]Binding)
	}
	m.saved[[2]string{node, user}] = bindings
	return nil
}

func (m *memoryBindings) LoadBindings(_ context.Context, user string, now time.Time) ([]Binding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Binding
	for key, bindings := range m.saved {
		if key[1] != user {
			continue
		}
		for _, b := range bindings {
			if b.Expires.After(now) {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

func TestNewRegistrarSharedConfig(t *testing.T) {
	tests := map[string]func(*RegistrarConfig){
		"no node":              func(c *RegistrarConfig) { c.Node = "" },
		"no node addresses":    func(c *RegistrarConfig) { c.NodeAddresses = nil },
		"unknown transport":    func(c *RegistrarConfig) { c.NodeAddresses = map[string]string{"sctp": "10.0.0.1:5060"} },
		"address without port": func(c *RegistrarConfig) { c.NodeAddresses = map[string]string{"udp": "10.0.0.1"} },
	}
	for name, adjust := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := RegistrarConfig{
				Realm: testRealm, Passwords: map[string]string{testUser: testPassword},
				Shared: &memoryBindings{}, Node: "a", NodeAddresses: map[string]string{"udp": "10.0.0.1:5060"},
			}
			adjust(&cfg)
			if _, err := NewRegistrar(cfg); !errors.Is(err, ErrInvalidRegistrarConfig) {
				t.Errorf("NewRegistrar error = %v, want ErrInvalidRegistrarConfig", err)
			}
		})
	}
}

func TestSharedRegisterOwnPath(t *testing.T) {
	store := &memoryBindings{}
	env := startRegistrar(t, func(cfg *RegistrarConfig) {
		cfg.Shared = store
		cfg.Node = "a"
		// Only UDP is known, so a REGISTER over TCP gets the UDP address.
		cfg.NodeAddresses = map[string]string{"udp": "10.0.0.1:5060"}
	})
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, contact: "<sip:" + testUser + "@127.0.0.1:5999;transport=tcp>", callID: "call-own-path", cseq: 1, tcp: true, supported: "path"}

	res := env.register(t, client, spec, "MD5", testUser, testPassword)
	if res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	if echo := res.GetHeaders("Path"); len(echo) != 0 {
		t.Errorf("200 echoes Path %v that the REGISTER did not carry", echo)
	}

	binding, ok := env.registrar.Lookup(testUser)
	if !ok {
		t.Fatal("Lookup found no binding")
	}
	want := "sip:10.0.0.1:5060;transport=udp;lr;hl-flow=" + FlowToken("tcp", binding.Source.String())
	if !slices.Equal(binding.Path, []string{want}) || binding.Node != "a" {
		t.Errorf("binding Path = %q, Node = %q; want %q and a", binding.Path, binding.Node, want)
	}
	if hop, err := binding.NextHop(); err != nil || hop.Destination != binding.Source.String() || hop.Transport != "tcp" || len(hop.Route) != 0 {
		t.Errorf("next hop on the registering node = %+v (%v), want the flow over tcp", hop, err)
	}

	saved, err := store.LoadBindings(context.Background(), testUser, env.clock.Now())
	if err != nil || len(saved) != 1 || !slices.Equal(saved[0].Path, []string{want}) {
		t.Errorf("saved bindings = %+v (%v), want the binding with its Path", saved, err)
	}
}

func TestRestoreSharedAfterRestart(t *testing.T) {
	store := &memoryBindings{}
	shared := func(cfg *RegistrarConfig) {
		cfg.Shared = store
		cfg.Node = "a"
		cfg.NodeAddresses = map[string]string{"udp": "10.0.0.1:5060", "tcp": "10.0.0.1:5060"}
	}
	first := startRegistrar(t, shared)
	client := newTestClient(t, "127.0.0.1")
	spec := registerSpec{toUser: testUser, contact: "<sip:" + testUser + "@127.0.0.1:5999;transport=tcp>", callID: "call-restart", cseq: 1, tcp: true}
	if res := first.register(t, client, spec, "MD5", testUser, testPassword); res.StatusCode != sipmsg.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	before, _ := first.registrar.Lookup(testUser)

	// The node restarts: a new registrar with empty memory, same store.
	second := startRegistrar(t, shared)
	second.clock.now = first.clock.Now()
	if _, ok := second.registrar.Lookup(testUser); ok {
		t.Fatal("Lookup found a binding before RestoreShared: the test needs the restarted node to start empty")
	}

	if n := second.registrar.RestoreShared(context.Background()); n != 1 {
		t.Fatalf("RestoreShared = %d, want 1", n)
	}
	after, ok := second.registrar.Lookup(testUser)
	if !ok {
		t.Fatal("Lookup found no binding after RestoreShared")
	}
	if after.Source != before.Source || !slices.Equal(after.Path, before.Path) {
		t.Errorf("restored binding = %+v, want the one registered before the restart %+v", after, before)
	}
	hop, err := after.NextHop()
	if err != nil || hop.Destination != before.Source.String() || len(hop.Route) != 0 {
		t.Errorf("next hop of the restored own binding = %+v (%v), want the phone's flow directly", hop, err)
	}
	select {
	case change := <-second.changes:
		if change.user != testUser || !change.registered {
			t.Errorf("registration change = %+v, want %s registered", change, testUser)
		}
	case <-time.After(5 * time.Second):
		t.Error("no registration change announced for the restored binding")
	}
}
