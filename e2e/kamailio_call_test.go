package e2e

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeDownTimeout bounds the wait for the dispatcher to take a dead node
// out: one probe interval plus tm's failure timer, with a wide margin for
// a loaded machine.
const nodeDownTimeout = 60 * time.Second

// TestCallThroughKamailio runs the front proxy of deploy/kamailio in front
// of one helpline server. The dispatcher list also names a port with no
// listener. The test checks that OPTIONS probing takes that node out, that
// the counselor's phone registers through the proxy with a Path, and that a
// trunk call through the proxy reaches the counselor through that Path.
func TestCallThroughKamailio(t *testing.T) {
	t.Parallel()
	RequireTool(t, "kamailio")
	RequireTool(t, "sipp")
	RequireTool(t, "baresip")

	srv := StartServer(t, ServerOptions{})
	deadNode := net.JoinHostPort(Loopback, strconv.Itoa(FreePort(t)))
	proxy := StartKamailio(t, KamailioOptions{Nodes: []string{"sip:" + srv.Addr(), "sip:" + deadNode}})

	// The live node returns 200 to the probes and stays in, and the dead
	// one is taken out.
	proxy.WaitLog(t, "helpline node down: OPTIONS sip:"+deadNode, nodeDownTimeout)

	phone := StartBaresip(t, Softphone{User: "1001", Password: "demo-1001", Server: proxy.Addr(), AutoAnswer: true})
	added := srv.WaitLog(t, LogFields(map[string]any{"message": "binding added", "user": "1001"}), logTimeout)
	path := fmt.Sprint(added["path"])
	wantHop, wantReceived := "sip:"+proxy.Addr()+";", ";received=sip:"+net.JoinHostPort(Loopback, strconv.Itoa(phone.SIPPort))
	if !strings.Contains(path, wantHop) || !strings.Contains(path, wantReceived) {
		t.Fatalf("binding path = %s, want the proxy's Path %s...%s", path, wantHop, wantReceived)
	}
	if source := fmt.Sprint(added["source"]); source != proxy.Addr() {
		t.Errorf("binding source = %s, want the proxy %s", source, proxy.Addr())
	}
	srv.LoginCounselor(t, "1001")

	result := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   proxy.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "4000", "voice_plays": "1", "hold_ms": "2000"},
		Timeout:  90 * time.Second,
	})

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{
		"outcome":     "answered",
		"counselor":   "1001",
		"hangup_side": "caller",
	})
	ringing := srv.WaitLog(t, LogFields(map[string]any{"message": "ringing counselor", "counselor": "1001"}), logTimeout)
	if destination := fmt.Sprint(ringing["destination"]); destination != proxy.Addr() {
		t.Errorf("INVITE to the counselor went to %s, want the proxy %s (the first Path hop)", destination, proxy.Addr())
	}
	phone.WaitEvent(t, EventCallEstablished, phoneTimeout)
	phone.WaitEvent(t, EventCallClosed, phoneTimeout)

	for _, line := range proxy.Lines() {
		if strings.Contains(line, "helpline node down: OPTIONS sip:"+srv.Addr()) {
			t.Errorf("the dispatcher took the live node out: %s", line)
		}
	}
}
