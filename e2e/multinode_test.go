package e2e

import (
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Limits of the shared mode test.
const (
	// multiNodeCallTimeout is SIPp's -timeout for a caller that waits for
	// the server's BYE.
	multiNodeCallTimeout = 150 * time.Second
	// multiNodeWait bounds each wait for a record, an event, a phone or a
	// reclaim.
	multiNodeWait = 60 * time.Second
	// counselorTalk is how long a counselor stays on an answered call
	// before hanging up, so that calls overlap with new offers.
	counselorTalk = 2 * time.Second
	// burstCallers is how many callers arrive at once in the burst phase.
	burstCallers = 6
	// multiNodeCount is how many nodes the test starts: node C drains
	// while nodes A and B keep serving, and node B survives the kill of
	// node A.
	multiNodeCount = 3
	// drainingNode is the index of the node that gets SIGTERM.
	drainingNode = 2
	// drainTimeout is the draining node's shutdown.drain_timeout: long
	// enough that its call in progress ends by the counselor's hangup, not
	// by the deadline.
	drainTimeout = "60s"
	// drainCallers is how many new callers arrive through Kamailio while
	// node C drains.
	drainCallers = 2
)

// The counselors of the example configuration; all of them have the ko
// skill of the loneliness_ko queue that keys 5 and 1 lead to.
var multiNodeCounselors = []string{"1001", "1002", "1003"}

// talkingCounselor talks to a caller through the Sentinel failover.
const talkingCounselor = "1003"

// directCounselor is a counselor the test adds to the configuration, whose
// phone registers on node B itself rather than through Kamailio.
const directCounselor = "1004"

// Three nodes in shared mode behind Kamailio, with Redis behind sentinels
// and records in PostgreSQL. The phases share one set and run in this
// order, because the last two stop a node each:
//
//   - a caller on one node is answered by a counselor whose phone
//     registered through another node;
//   - under a burst of simultaneous callers no counselor is offered two
//     callers at once;
//   - a Sentinel failover loses no waiting caller, a caller arriving
//     during it is answered, and /readyz reports 503 meanwhile, then 200;
//   - without the proxy, a caller on node A is answered by a phone that
//     registered on node B itself, through node B's relay;
//   - after SIGTERM node C keeps its call in progress, Kamailio sends new
//     callers to the other nodes, and node C exits 0 once its call ends;
//   - after SIGKILL of a node its waiting callers are interrupted in the
//     records with a callback task each, and another node keeps serving.
//
// The test does not call t.Parallel: it starts twelve processes besides
// its phones and callers, and runs alone before the parallel tests.
func TestMultiNodeSharedMode(t *testing.T) {
	RequireTool(t, "kamailio")
	RequireTool(t, "redis-server")
	RequireTool(t, "sipp")
	RequireTool(t, "baresip")

	// Callback tasks need an outbound route. Nothing listens on the
	// gateway port, and the long waits keep each task pending.
	gateway := "sip:gw@" + Loopback + ":" + strconv.Itoa(FreePort(t))
	set := StartSharedSet(t, SharedOptions{Nodes: multiNodeCount, Mutate: func(node int, cfg map[string]any) {
		fastQueue("1s")(cfg)
		_ = SetConfig(cfg, "queue.announce_interval", "0s")
		_ = SetConfig(cfg, "trunk.outbound_uri", gateway)
		_ = SetConfig(cfg, "callbacks.interval", "10m")
		_ = SetConfig(cfg, "callbacks.after_abandon_wait", "10m")
		addCounselor(cfg, directCounselor)
		if node == drainingNode {
			_ = SetConfig(cfg, "shutdown.drain_timeout", drainTimeout)
		}
	}})
	phones := registerThroughProxy(t, set)

	t.Run("caller answered across nodes", func(t *testing.T) {
		crossNodeAnswer(t, set, phones)
	})
	t.Run("burst offers one caller per counselor", func(t *testing.T) {
		burstOffers(t, set, phones)
	})
	t.Run("sentinel failover keeps calls and waiting callers", func(t *testing.T) {
		sentinelFailover(t, set, phones)
	})
	t.Run("caller answered through registering node", func(t *testing.T) {
		relayedWithoutProxy(t, set)
	})
	t.Run("draining node finishes its call", func(t *testing.T) {
		drainBehindProxy(t, set, phones)
	})
	t.Run("killed node callers interrupted", func(t *testing.T) {
		killedNode(t, set, phones)
	})
}

// addCounselor appends counselor id, with password demo-<id> and the ko
// skill, to the configuration's counselors.
func addCounselor(cfg map[string]any, id string) {
	list, _ := cfg["counselors"].([]any)
	cfg["counselors"] = append(list, map[string]any{
		"id":       id,
		"name":     "Counselor " + id,
		"password": "demo-" + id,
		"skills":   map[string]any{"ko": 5},
	})
}

// counselorPhoneSet is a registered phone and the node its REGISTER went
// through.
type counselorPhoneSet struct {
	phone *Phone
	node  int
}

// registerThroughProxy registers every counselor's baresip at Kamailio's
// address, with automatic answer, and notes which node got each REGISTER.
func registerThroughProxy(t *testing.T, set *SharedSet) map[string]counselorPhoneSet {
	t.Helper()

	phones := map[string]counselorPhoneSet{}
	for _, user := range multiNodeCounselors {
		phone := StartBaresip(t, Softphone{
			User:       user,
			Password:   "demo-" + user,
			Server:     set.Proxy.Addr(),
			AutoAnswer: true,
		})
		phones[user] = counselorPhoneSet{phone: phone, node: set.RegisteringNode(t, user, multiNodeWait)}
	}
	return phones
}

// crossNodeAnswer logs in one counselor and sends a caller straight to a
// node the counselor's phone did not register through: that node reaches
// the phone through the Path of the binding.
func crossNodeAnswer(t *testing.T, set *SharedSet, phones map[string]counselorPhoneSet) {
	user := multiNodeCounselors[0]
	counselor := phones[user]
	callerNode := (counselor.node + 1) % len(set.Nodes)
	set.Nodes[callerNode].LoginCounselor(t, user)

	caller := startWaitingCaller(t, set.Nodes[callerNode].Addr())
	counselor.phone.WaitEvent(t, EventCallEstablished, multiNodeWait)
	time.Sleep(counselorTalk)
	counselor.phone.Hangup(t)
	result := caller.Wait(t)

	record := waitMultiNodeRecord(t, set.Nodes[counselor.node], result.CallID)
	if got := recordField(record, "outcome"); got != "answered" {
		t.Errorf("outcome = %q, want answered; record %v", got, record)
	}
	if got := recordField(record, "counselor"); got != user {
		t.Errorf("counselor = %q, want %s", got, user)
	}
	if got := recordField(record, "node"); got != NodeID(callerNode) {
		t.Errorf("node = %q, want %s, the node the caller reached (the phone registered through %s)", got, NodeID(callerNode), NodeID(counselor.node))
	}
	set.Nodes[callerNode].SetCounselorState(t, user, "logged_out", "")
}

// burstOffers sends burstCallers callers through Kamailio at once to three
// counselors and checks, in the phones' events and in the event log, that
// no counselor ever had two offers or calls at the same time.
func burstOffers(t *testing.T, set *SharedSet, phones map[string]counselorPhoneSet) {
	before := answeredSoFar(phones)
	for _, user := range multiNodeCounselors {
		set.Nodes[0].LoginCounselor(t, user)
	}
	since := time.Now()

	callers := make([]*SippProcess, 0, burstCallers)
	for range burstCallers {
		callers = append(callers, startWaitingCaller(t, set.Proxy.Addr()))
	}
	hangUpAnswered(t, phones, before, burstCallers)

	nodes := map[string]int{}
	for _, caller := range callers {
		result := caller.Wait(t)
		record := waitMultiNodeRecord(t, set.Nodes[0], result.CallID)
		if got := recordField(record, "outcome"); got != "answered" {
			t.Errorf("call %s outcome = %q, want answered", result.CallID, got)
		}
		nodes[recordField(record, "node")]++
	}
	t.Logf("burst callers per node: %v", nodes)

	for user, counselor := range phones {
		checkOneCallAtATime(t, user, counselor.phone.Events())
	}
	checkNoOverlappingOffers(t, eventsSince(set.Nodes[0].Events(t), since))
	for _, user := range multiNodeCounselors {
		set.Nodes[0].SetCounselorState(t, user, "break", "failover test")
	}
}

// sentinelFailover keeps one call in progress and queues two callers while
// the other counselors are on break,
// kills the Redis primary, places a third caller while no primary answers,
// and checks that all three are answered once the counselors come back.
func sentinelFailover(t *testing.T, set *SharedSet, phones map[string]counselorPhoneSet) {
	// A call in progress when the primary fails: counselor 1003 talks to a
	// caller through the whole failover.
	talker := phones[talkingCounselor].phone
	established := countPhoneEvents(talker.Events(), EventCallEstablished)
	set.Nodes[0].LoginCounselor(t, talkingCounselor)
	talking := startWaitingCaller(t, set.Proxy.Addr())
	waitPhoneEvents(t, talker, EventCallEstablished, established+1)
	set.Nodes[0].WaitCounselorState(t, talkingCounselor, "on_call", multiNodeWait)

	entered := countEvents(set.Nodes[0].Events(t), "caller_entered")
	waiting := []*SippProcess{
		startWaitingCaller(t, set.Proxy.Addr()),
		startWaitingCaller(t, set.Proxy.Addr()),
	}
	waitEventCount(t, set.Nodes[0], "caller_entered", entered+len(waiting))

	// Redis replicates asynchronously: what the primary accepted in the
	// last moment before a crash can be lost. The test waits for the
	// replica so that it checks the failover itself.
	set.Redis.WaitReplicaCaughtUp(t)
	probes := make([]*ReadyProbe, 0, len(set.Nodes))
	for _, node := range set.Nodes {
		node.WaitReady(t, http.StatusOK, multiNodeWait)
		probes = append(probes, node.ProbeReady(t))
	}

	oldPrimary := set.Redis.KillPrimaryNoWait(t)
	during := startWaitingCaller(t, set.Proxy.Addr())
	newPrimary := set.Redis.WaitFailover(t, oldPrimary)
	t.Logf("Redis primary moved from %s to %s", oldPrimary, newPrimary)

	for i, node := range set.Nodes {
		node.WaitReady(t, http.StatusOK, multiNodeWait)
		probes[i].Stop()
		if !probes[i].Seen(http.StatusServiceUnavailable) {
			t.Errorf("%s /readyz never answered 503 during the failover: %s", NodeID(i), probes[i])
		}
	}

	// The call in progress went on through the failover. Its end reaches
	// the new primary: the counselor leaves on_call.
	before := answeredSoFar(phones)
	hungUpAt := time.Now()
	talker.Hangup(t)
	talked := talking.Wait(t)
	talkedRecord := waitMultiNodeRecord(t, set.Nodes[1], talked.CallID)
	if got := recordField(talkedRecord, "outcome"); got != "answered" || recordField(talkedRecord, "hangup_side") != "counselor" {
		t.Errorf("call in progress during the failover: outcome %q, hung up by %q; want answered, by the counselor; record %v",
			got, recordField(talkedRecord, "hangup_side"), talkedRecord)
	}
	set.Nodes[1].WaitEvents(t, func(list []map[string]any) bool {
		for _, e := range eventsSince(list, hungUpAt) {
			if eventField(e, "type") == "counselor_state" && eventField(e, "counselor_id") == talkingCounselor && eventData(e, "from") == "on_call" {
				return true
			}
		}
		return false
	}, multiNodeWait)

	for _, user := range multiNodeCounselors {
		set.Nodes[1].LoginCounselor(t, user)
	}
	callers := append(waiting[:len(waiting):len(waiting)], during)
	hangUpAnswered(t, phones, before, len(callers))
	for _, caller := range callers {
		result := caller.Wait(t)
		record := waitMultiNodeRecord(t, set.Nodes[1], result.CallID)
		if got := recordField(record, "outcome"); got != "answered" {
			t.Errorf("call %s outcome = %q after the failover, want answered; record %v", result.CallID, got, record)
		}
	}
	for _, user := range multiNodeCounselors {
		set.Nodes[1].SetCounselorState(t, user, "break", "node test")
	}
}

// relayedWithoutProxy registers a phone on node B itself, not through
// Kamailio, and sends a caller straight to node A. Node B stored the
// binding with a Path to itself, so node A's INVITE goes through node B,
// which relays it to the phone and relays the phone's BYE back.
func relayedWithoutProxy(t *testing.T, set *SharedSet) {
	nodeA, nodeB := set.Nodes[0], set.Nodes[1]
	phone := StartBaresip(t, Softphone{
		User:       directCounselor,
		Password:   "demo-" + directCounselor,
		Server:     nodeB.Addr(),
		AutoAnswer: true,
	})
	nodeB.WaitLog(t, LogFields(map[string]any{"message": "binding added", "user": directCounselor}), multiNodeWait)
	nodeA.LoginCounselor(t, directCounselor)

	caller := startWaitingCaller(t, nodeA.Addr())
	answered := phone.WaitEvent(t, EventCallEstablished, multiNodeWait)
	time.Sleep(counselorTalk)
	phone.Hangup(t)
	result := caller.Wait(t)

	record := waitMultiNodeRecord(t, nodeA, result.CallID)
	if got := recordField(record, "outcome"); got != "answered" {
		t.Errorf("outcome = %q, want answered; record %v", got, record)
	}
	if got := recordField(record, "counselor"); got != directCounselor {
		t.Errorf("counselor = %q, want %s", got, directCounselor)
	}
	if got := recordField(record, "node"); got != NodeID(0) {
		t.Errorf("node = %q, want %s, the node the caller reached", got, NodeID(0))
	}

	// The phone's leg has a Call-ID of its own, which node B logs for
	// each request it relays.
	for _, method := range []string{"INVITE", "BYE"} {
		nodeB.WaitLog(t, LogFields(map[string]any{
			"component": "relay", "method": method, "call_id": answered.ID, "message": "request relayed",
		}), multiNodeWait)
	}
	nodeA.SetCounselorState(t, directCounselor, "logged_out", "")
}

// drainBehindProxy gives node C a call in progress and sends it SIGTERM.
// Kamailio's probes then get 503 and take node C out, so new callers
// through Kamailio are answered on the other nodes. The call on node C
// goes on until the counselor hangs up, and node C then exits 0 without
// waiting for its drain deadline.
func drainBehindProxy(t *testing.T, set *SharedSet, phones map[string]counselorPhoneSet) {
	nodeA, nodeC := set.Nodes[0], set.Nodes[drainingNode]
	user := multiNodeCounselors[0]
	counselor := phones[user]

	established := countPhoneEvents(counselor.phone.Events(), EventCallEstablished)
	nodeA.LoginCounselor(t, user)
	ongoing := startWaitingCaller(t, nodeC.Addr())
	waitPhoneEventCount(t, counselor.phone, EventCallEstablished, established+1)
	closed := countPhoneEvents(counselor.phone.Events(), EventCallClosed)

	proxyLines := set.Proxy.LineCount()
	nodeC.Terminate()
	nodeC.WaitLog(t, LogMessage("draining: new calls get 503"), multiNodeWait)
	set.Proxy.WaitLogAfter(t, proxyLines, "helpline node down: OPTIONS "+NodeURI(nodeC.Host, nodeC.SIPPort), multiNodeWait)

	before := answeredSoFar(phones)
	for _, other := range multiNodeCounselors[1:] {
		nodeA.LoginCounselor(t, other)
	}
	callers := make([]*SippProcess, 0, drainCallers)
	for range drainCallers {
		callers = append(callers, startWaitingCaller(t, set.Proxy.Addr()))
	}
	hangUpAnswered(t, phones, before, drainCallers)
	for _, caller := range callers {
		result := caller.Wait(t)
		record := waitMultiNodeRecord(t, nodeA, result.CallID)
		if got := recordField(record, "outcome"); got != "answered" {
			t.Errorf("call %s during the drain: outcome = %q, want answered; record %v", result.CallID, got, record)
		}
		if got := recordField(record, "node"); got == NodeID(drainingNode) {
			t.Errorf("call %s during the drain went to the draining node %s", result.CallID, got)
		}
	}

	if nodeC.Exited() {
		t.Fatalf("%s exited while its call was in progress", NodeID(drainingNode))
	}
	if got := countPhoneEvents(counselor.phone.Events(), EventCallClosed); got != closed {
		t.Fatalf("counselor %s's call on %s ended during the drain, before the hangup", user, NodeID(drainingNode))
	}
	counselor.phone.Hangup(t)
	result := ongoing.Wait(t)
	if code := nodeC.WaitExit(t, multiNodeWait); code != 0 {
		t.Errorf("%s exit code = %d, want 0", NodeID(drainingNode), code)
	}
	for _, entry := range nodeC.Logs() {
		if LogMessage("drain deadline passed, ending calls")(entry) {
			t.Errorf("%s waited for its drain deadline: %v", NodeID(drainingNode), entry)
		}
	}

	record := waitMultiNodeRecord(t, nodeA, result.CallID)
	for field, want := range map[string]string{"outcome": "answered", "counselor": user, "node": NodeID(drainingNode), "hangup_side": "counselor"} {
		if got := recordField(record, field); got != want {
			t.Errorf("call in progress on the draining node: %s = %q, want %q; record %v", field, got, want, record)
		}
	}
	for _, user := range multiNodeCounselors {
		nodeA.SetCounselorState(t, user, "break", "node test")
	}
}

// waitPhoneEventCount waits until the phone reported want events of
// eventType in all.
func waitPhoneEventCount(t *testing.T, phone *Phone, eventType string, want int) {
	t.Helper()

	deadline := time.Now().Add(multiNodeWait)
	for countPhoneEvents(phone.Events(), eventType) < want {
		if time.Now().After(deadline) {
			t.Fatalf("phone reported %d %s events after %s, want %d: %v", countPhoneEvents(phone.Events(), eventType), eventType, multiNodeWait, want, phone.Events())
		}
		time.Sleep(readyPollInterval)
	}
}

// killedNode queues two callers on node A while every counselor is on
// break and kills node A with SIGKILL. Node B must close their records as
// interrupted with a callback task each, and answer a new caller that
// comes through Kamailio.
//
// The two callback tasks keep the interrupted callers' places, ahead of
// the new caller, so two of the three counselors get a callback when they
// log in. The test hangs up only the phone that node B bridged to the new
// caller.
func killedNode(t *testing.T, set *SharedSet, phones map[string]counselorPhoneSet) {
	nodeA, nodeB := set.Nodes[0], set.Nodes[1]
	entered := countEvents(nodeB.Events(t), "caller_entered")
	for range 2 {
		startWaitingCaller(t, nodeA.Addr())
	}
	waitEventCount(t, nodeB, "caller_entered", entered+2)

	nodeA.Kill(t)

	interrupted := waitInterrupted(t, nodeB, NodeID(0), 2)
	checkCallbackTasks(t, nodeB, interrupted)

	logsBefore := nodeB.LogCount()
	for _, user := range multiNodeCounselors {
		nodeB.LoginCounselor(t, user)
	}
	caller := startWaitingCaller(t, set.Proxy.Addr())
	bridged := nodeB.WaitLogAfter(t, logsBefore, LogMessage("counselor answered, bridging"), multiNodeWait)
	counselor, ok := phones[recordField(bridged, "counselor")]
	if !ok {
		t.Fatalf("node B bridged the new caller to an unknown counselor: %v", bridged)
	}
	time.Sleep(counselorTalk)
	counselor.phone.Hangup(t)
	result := caller.Wait(t)
	if got := recordField(bridged, "call_id"); got != result.CallID {
		t.Errorf("node B bridged call %s, want the new caller's %s", got, result.CallID)
	}
	record := waitMultiNodeRecord(t, nodeB, result.CallID)
	if got := recordField(record, "outcome"); got != "answered" {
		t.Errorf("call after the node was killed: outcome = %q, want answered; record %v", got, record)
	}
	if got := recordField(record, "node"); got != NodeID(1) {
		t.Errorf("call after the node was killed: node = %q, want %s", got, NodeID(1))
	}
}

// startWaitingCaller starts a SIPp caller that presses 5 and 1, waits in
// the loneliness_ko queue and stays on the call until the server's BYE.
func startWaitingCaller(t *testing.T, target string) *SippProcess {
	t.Helper()
	return StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   target,
		Service:  "120",
		Vars:     map[string]string{"gap_ms": "300", "queue_ms": "0", "wait_bye": "1"},
		Timeout:  multiNodeCallTimeout,
	})
}

// answeredSoFar counts the calls each phone has answered, for
// hangUpAnswered. Take it before the counselors log in: a waiting caller
// is answered at once.
func answeredSoFar(phones map[string]counselorPhoneSet) map[string]int {
	counts := make(map[string]int, len(phones))
	for user, counselor := range phones {
		counts[user] = countPhoneEvents(counselor.phone.Events(), EventCallEstablished)
	}
	return counts
}

// hangUpAnswered waits until the phones together answered total calls
// after the counts of before,
// and hangs up each one counselorTalk after it was established.
func hangUpAnswered(t *testing.T, phones map[string]counselorPhoneSet, before map[string]int, total int) {
	t.Helper()

	handled := maps.Clone(before)
	seenAt := map[string]time.Time{}
	done := 0
	deadline := time.Now().Add(multiNodeWait + time.Duration(total)*counselorTalk)
	for done < total {
		for user, counselor := range phones {
			established := countPhoneEvents(counselor.phone.Events(), EventCallEstablished)
			if established <= handled[user] {
				continue
			}
			if seenAt[user].IsZero() {
				seenAt[user] = time.Now()
			}
			if time.Since(seenAt[user]) < counselorTalk {
				continue
			}
			counselor.phone.Hangup(t)
			handled[user]++
			seenAt[user] = time.Time{}
			done++
		}
		if time.Now().After(deadline) {
			t.Fatalf("phones answered %d of %d calls", done, total)
		}
		time.Sleep(readyPollInterval)
	}
}

// waitPhoneEvents waits until phone has seen want events of eventType.
func waitPhoneEvents(t *testing.T, phone *Phone, eventType string, want int) {
	t.Helper()
	deadline := time.Now().Add(multiNodeWait)
	for countPhoneEvents(phone.Events(), eventType) < want {
		if time.Now().After(deadline) {
			t.Fatalf("phone saw %d %s events after %s, want %d", countPhoneEvents(phone.Events(), eventType), eventType, multiNodeWait, want)
		}
		time.Sleep(readyPollInterval)
	}
}

func countPhoneEvents(events []PhoneEvent, eventType string) int {
	n := 0
	for _, event := range events {
		if event.Type == eventType {
			n++
		}
	}
	return n
}

// checkOneCallAtATime fails when the phone was rung while it still had a
// call: its events must alternate between an incoming call and its end.
func checkOneCallAtATime(t *testing.T, user string, events []PhoneEvent) {
	t.Helper()

	open := 0
	for i, event := range events {
		switch event.Type {
		case EventCallIncoming:
			open++
		case EventCallClosed:
			open--
		}
		if open > 1 {
			t.Errorf("counselor %s was rung while on another call (event %d of %v)", user, i, events)
			return
		}
	}
}

// checkNoOverlappingOffers replays the event log in time order and fails
// when a counselor is offered a caller while an earlier offer or call of
// the same counselor has not ended.
func checkNoOverlappingOffers(t *testing.T, list []map[string]any) {
	t.Helper()

	sort.SliceStable(list, func(i, j int) bool {
		return recordField(list[i], "at") < recordField(list[j], "at")
	})
	open := map[string]string{} // counselor → call ID of the open offer or call
	for _, event := range list {
		callID := recordField(event, "call_id")
		counselor := recordField(event, "counselor_id")
		switch recordField(event, "type") {
		case "offered":
			if current, busy := open[counselor]; busy && current != callID {
				t.Errorf("counselor %s offered %s at %s while %s was not over", counselor, callID, recordField(event, "at"), current)
			}
			open[counselor] = callID
		case "ring_no_answer", "offer_rejected":
			delete(open, counselor)
		case "call_ended", "abandoned":
			for who, current := range open {
				if current == callID {
					delete(open, who)
				}
			}
		}
	}
}

// eventsSince keeps the events at or after since. Event times are
// RFC 3339 in UTC.
func eventsSince(list []map[string]any, since time.Time) []map[string]any {
	var kept []map[string]any
	for _, event := range list {
		at, err := time.Parse(time.RFC3339Nano, recordField(event, "at"))
		if err == nil && !at.Before(since.Add(-time.Second)) {
			kept = append(kept, event)
		}
	}
	return kept
}

func countEvents(list []map[string]any, eventType string) int {
	n := 0
	for _, event := range list {
		if recordField(event, "type") == eventType {
			n++
		}
	}
	return n
}

// waitEventCount waits until the shared event log holds want events of
// eventType.
func waitEventCount(t *testing.T, node *Server, eventType string, want int) {
	t.Helper()
	node.WaitEvents(t, func(list []map[string]any) bool {
		return countEvents(list, eventType) >= want
	}, multiNodeWait)
}

// waitMultiNodeRecord waits for the ended record of callID in the shared
// records, read through node's configuration.
func waitMultiNodeRecord(t *testing.T, node *Server, callID string) map[string]any {
	t.Helper()
	return node.WaitRecord(t, func(r map[string]any) bool {
		return recordField(r, "call_id") == callID && recordField(r, "ended_at") != ""
	}, multiNodeWait)
}

// waitInterrupted waits until want records of nodeID are closed as
// interrupted and returns their call IDs.
func waitInterrupted(t *testing.T, reader *Server, nodeID string, want int) []string {
	t.Helper()

	deadline := time.Now().Add(multiNodeWait)
	for {
		var callIDs []string
		for _, record := range reader.Records(t) {
			if recordField(record, "node") == nodeID && recordField(record, "outcome") == "interrupted" {
				callIDs = append(callIDs, recordField(record, "call_id"))
			}
		}
		if len(callIDs) >= want {
			return callIDs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records of %s interrupted after %s, want %d: %v", len(callIDs), nodeID, multiNodeWait, want, reader.Records(t))
		}
		time.Sleep(recordPollInterval)
	}
}

// checkCallbackTasks checks that GET /api/v1/callbacks lists a pending
// callback task for each interrupted call.
func checkCallbackTasks(t *testing.T, node *Server, callIDs []string) {
	t.Helper()

	deadline := time.Now().Add(multiNodeWait)
	for {
		listed := node.API(t, http.MethodGet, "/api/v1/callbacks", nil)
		missing := missingCallbacks(listed, callIDs)
		if listed.Status == http.StatusOK && len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending callback task for %s after %s: %s", strings.Join(missing, ", "), multiNodeWait, listed)
		}
		time.Sleep(recordPollInterval)
	}
}

// missingCallbacks returns the call IDs without a pending task in the
// listing.
func missingCallbacks(listed APIResponse, callIDs []string) []string {
	pending := map[string]bool{}
	entries, _ := listed.Body["callbacks"].([]any)
	for _, entry := range entries {
		task, _ := entry.(map[string]any)
		if task["state"] == "pending" {
			pending[recordField(task, "call_id")] = true
		}
	}
	var missing []string
	for _, callID := range callIDs {
		if !pending[callID] {
			missing = append(missing, callID)
		}
	}
	return missing
}
