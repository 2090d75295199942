package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"helpline/config"
	"helpline/e2e"
	"helpline/events"
)

// These tests run the server in this process, wired by build as serve
// does, with the call routes on an HTTP test server, and real phones from
// the e2e harness. In-process, they can read the event bus.

// apiToken is the bearer token of the test API.
const apiToken = "monitor-test-token"

// inProcessServer is a running app with its API and an event subscription.
type inProcessServer struct {
	app    *app
	addr   string
	api    *httptest.Server
	events *events.Subscription
}

// startInProcess builds the app from the example configuration with free
// loopback ports and every call going straight to the queue, and serves
// it until the test ends.
func startInProcess(t *testing.T, mutate func(cfg map[string]any)) *inProcessServer {
	t.Helper()
	tree := e2e.LoadExampleConfig(t)
	sipPort := e2e.FreePort(t)
	rtp := e2e.FreePortRange(t, 100)
	address := net.JoinHostPort(e2e.Loopback, strconv.Itoa(sipPort))
	settings := map[string]any{
		"sip.listen":             []any{map[string]any{"network": "udp", "address": address}},
		"sip.public_host":        e2e.Loopback,
		"rtp.address":            e2e.Loopback,
		"rtp.port_min":           rtp.Min,
		"rtp.port_max":           rtp.Max,
		"records.data_dir":       filepath.Join(t.TempDir(), "data"),
		"records.key_env":        "HELPLINE_TEST_UNSET_KEY",
		"records.allow_demo_key": true,
		"api.listen":             net.JoinHostPort(e2e.Loopback, strconv.Itoa(e2e.FreePort(t))),
		"api.token":              apiToken,
	}
	for path, value := range settings {
		e2e.MustSetConfig(t, tree, path, value)
	}
	e2e.DirectQueue(tree)
	if mutate != nil {
		mutate(tree)
	}

	data, err := yaml.Marshal(tree)
	if err != nil {
		t.Fatalf("encoding the configuration: %v", err)
	}
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("writing the configuration: %v", err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatalf("loading the configuration: %v", err)
	}

	logs := &testLogs{w: zerolog.NewTestWriter(t)}
	// Registered first, this cleanup runs last: libraries may still log
	// from their own goroutines while the server closes, and a test log
	// after the test's end panics.
	t.Cleanup(logs.stop)
	log := zerolog.New(logs).Level(zerolog.InfoLevel)
	a, err := build(cfg, log)
	if err != nil {
		t.Fatalf("building the server: %v", err)
	}
	subscription := a.events.Subscribe(256)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server run: %v", err)
		}
		subscription.Close()
		a.close()
	})
	waitListening(t, a)

	apiServer := httptest.NewServer(a.api)
	t.Cleanup(apiServer.Close)

	return &inProcessServer{app: a, addr: address, api: apiServer, events: subscription}
}

// testLogs passes log lines to the test's log until stop, and drops them
// after.
type testLogs struct {
	mu      sync.Mutex
	w       io.Writer
	stopped bool
}

func (l *testLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return len(p), nil
	}
	return l.w.Write(p)
}

func (l *testLogs) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
}

// waitListening waits until the SIP listener is bound.
func waitListening(t *testing.T, a *app) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(a.sip.Addrs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the SIP listener was not bound within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// login makes counselor id available through the API, retrying while the
// phone's registration is not applied yet (409).
func (s *inProcessServer) login(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := s.post(t, "/api/v1/counselors/"+id+"/state", map[string]string{"state": "available"})
		if status == http.StatusOK {
			return
		}
		if status != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("logging in counselor %s: status %d %v", id, status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// post sends body as JSON to the API and returns the status and the
// decoded response.
func (s *inProcessServer) post(t *testing.T, path string, body any) (int, map[string]string) {
	t.Helper()
	encoded, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("encoding the request: %v", err)
	}
	req, err := http.NewRequest(http.MethodPost, s.api.URL+path, bytes.NewReader(encoded))
	if err != nil {
		t.Fatalf("building the request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	res, err := s.api.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	var raw map[string]any
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		t.Fatalf("POST %s: decoding the response: %v", path, err)
	}
	decoded := make(map[string]string, len(raw))
	for key, value := range raw {
		decoded[key] = fmt.Sprint(value)
	}
	return res.StatusCode, decoded
}

// waitEvent returns the next event of type typ for which match returns
// true, skipping others.
func (s *inProcessServer) waitEvent(t *testing.T, typ events.Type, match func(events.Event) bool) events.Event {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case e, ok := <-s.events.C():
			if !ok {
				t.Fatalf("event subscription closed while waiting for %s", typ)
			}
			if e.Type == typ && (match == nil || match(e)) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event within 60s", typ)
		}
	}
}

// waitConnected waits until the server bridged callID to its counselor.
// A softphone reports its call established as soon as it sends 200 OK,
// a moment before the server has bridged the call.
func (s *inProcessServer) waitConnected(t *testing.T, callID string) {
	t.Helper()
	s.waitEvent(t, events.Connected, func(e events.Event) bool { return e.CallID == callID })
}

// monitorEvent matches a MonitorStarted event with mode and action.
func monitorEvent(mode, action string) func(events.Event) bool {
	return func(e events.Event) bool {
		return e.Data["mode"] == mode && e.Data["action"] == action
	}
}

// A supervisor is called into a running call through the API: in listen
// mode nobody hears them, after pressing 2 (whisper) only the counselor
// does, after the API switches to barge everybody does. The supervisor
// hears caller and counselor throughout.
func TestSupervisorListenWhisperBarge(t *testing.T) {
	e2e.RequireTool(t, "baresip")
	srv := startInProcess(t, nil)
	counselor := e2e.StartTonePhone(t, srv.addr, "1001", "demo-1001", e2e.CounselorToneHz, true)
	srv.login(t, "1001")
	caller := e2e.StartTonePhone(t, srv.addr, "7000", "", e2e.CallerToneHz, false)

	caller.Command(t, "dial", "sip:120@"+srv.addr)
	callerCall := caller.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
	callerTimeline := e2e.Timeline{Established: time.Now()}
	counselor.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
	counselorTimeline := e2e.Timeline{Established: time.Now()}
	srv.waitConnected(t, callerCall.ID)

	// The supervisor registers only now, so that the queue gave the
	// caller to 1001.
	supervisor := e2e.StartTonePhone(t, srv.addr, "1003", "demo-1003", e2e.SupervisorToneHz, true)
	callPath := "/api/v1/calls/" + callerCall.ID
	checkRejections(t, srv, callPath)

	status, body := srv.post(t, callPath+"/monitor", map[string]string{"supervisor": "1003", "mode": "listen"})
	if status != http.StatusAccepted {
		t.Fatalf("monitor: status %d %v, want 202", status, body)
	}
	supervisor.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
	supervisorTimeline := e2e.Timeline{Established: time.Now()}
	started := srv.waitEvent(t, events.MonitorStarted, monitorEvent("listen", "start"))
	if started.CallID != callerCall.ID || started.CounselorID != "1001" || started.Data["supervisor"] != "1003" {
		t.Errorf("monitor_started event = %+v, want call %s, counselor 1001, supervisor 1003", started, callerCall.ID)
	}
	listening := time.Now()
	listenEnd := e2e.Measure(5 * time.Second)

	supervisor.Command(t, "sndcode", "2")
	srv.waitEvent(t, events.MonitorStarted, monitorEvent("whisper", "change"))
	whispering := time.Now()
	whisperEnd := e2e.Measure(5 * time.Second)

	status, body = srv.post(t, callPath+"/monitor", map[string]string{"supervisor": "1003", "mode": "barge"})
	if status != http.StatusAccepted {
		t.Fatalf("switching to barge: status %d %v, want 202", status, body)
	}
	changed := srv.waitEvent(t, events.MonitorStarted, monitorEvent("barge", "change"))
	if changed.Data["by"] != "api" {
		t.Errorf("barge event by %q, want api", changed.Data["by"])
	}
	barging := time.Now()
	bargeEnd := e2e.Measure(5 * time.Second)

	// The supervisor leaves; caller and counselor go on talking.
	supervisor.Hangup(t)
	supervisor.WaitEvent(t, e2e.EventCallClosed, time.Minute)
	supervisorLeft := time.Now()
	afterEnd := e2e.Measure(5 * time.Second)
	for _, phone := range []*e2e.Phone{caller, counselor} {
		for _, event := range phone.Events() {
			if event.Type == e2e.EventCallClosed {
				t.Fatalf("a phone's call closed when the supervisor left: %+v", event)
			}
		}
	}

	caller.Hangup(t)
	for _, phone := range []*e2e.Phone{caller, counselor} {
		phone.WaitEvent(t, e2e.EventCallClosed, time.Minute)
	}

	callerWAV := e2e.ReadRecording(t, caller, "caller")
	counselorWAV := e2e.ReadRecording(t, counselor, "counselor")
	supervisorWAV := e2e.ReadRecording(t, supervisor, "supervisor")
	callerTone := map[string]float64{"caller": e2e.CallerToneHz}
	counselorTone := map[string]float64{"counselor": e2e.CounselorToneHz}
	supervisorTone := map[string]float64{"supervisor": e2e.SupervisorToneHz}
	callerAndCounselor := map[string]float64{"caller": e2e.CallerToneHz, "counselor": e2e.CounselorToneHz}
	counselorAndSupervisor := map[string]float64{"counselor": e2e.CounselorToneHz, "supervisor": e2e.SupervisorToneHz}
	callerAndSupervisor := map[string]float64{"caller": e2e.CallerToneHz, "supervisor": e2e.SupervisorToneHz}

	e2e.CheckHears(t, "caller", "in listen", callerTimeline.Segment(t, callerWAV, listening, listenEnd), counselorTone, callerAndSupervisor)
	e2e.CheckHears(t, "counselor", "in listen", counselorTimeline.Segment(t, counselorWAV, listening, listenEnd), callerTone, counselorAndSupervisor)
	e2e.CheckHears(t, "supervisor", "in listen", supervisorTimeline.Segment(t, supervisorWAV, listening, listenEnd), callerAndCounselor, supervisorTone)

	e2e.CheckHears(t, "caller", "in whisper", callerTimeline.Segment(t, callerWAV, whispering, whisperEnd), counselorTone, callerAndSupervisor)
	e2e.CheckHears(t, "counselor", "in whisper", counselorTimeline.Segment(t, counselorWAV, whispering, whisperEnd), callerAndSupervisor, counselorTone)
	e2e.CheckHears(t, "supervisor", "in whisper", supervisorTimeline.Segment(t, supervisorWAV, whispering, whisperEnd), callerAndCounselor, supervisorTone)

	e2e.CheckHears(t, "caller", "in barge", callerTimeline.Segment(t, callerWAV, barging, bargeEnd), counselorAndSupervisor, callerTone)
	e2e.CheckHears(t, "counselor", "in barge", counselorTimeline.Segment(t, counselorWAV, barging, bargeEnd), callerAndSupervisor, counselorTone)
	e2e.CheckHears(t, "supervisor", "in barge", supervisorTimeline.Segment(t, supervisorWAV, barging, bargeEnd), callerAndCounselor, supervisorTone)

	e2e.CheckHears(t, "caller", "after the supervisor left", callerTimeline.Segment(t, callerWAV, supervisorLeft, afterEnd), counselorTone, callerAndSupervisor)
	e2e.CheckHears(t, "counselor", "after the supervisor left", counselorTimeline.Segment(t, counselorWAV, supervisorLeft, afterEnd), callerTone, counselorAndSupervisor)
}

// A counselor's console calls 119 into a call through the API: the
// gateway is called, the emergency_joined event names the target, and the
// record keeps it. When the counselor then hangs up, the caller stays with
// the target, which echoes the caller's tone back.
func TestEmergencyFromAPI(t *testing.T) {
	e2e.RequireTool(t, "baresip")
	e2e.RequireTool(t, "sipp")
	gatewayPort := e2e.FreePort(t)
	srv := startInProcess(t, func(cfg map[string]any) {
		e2e.MustSetConfig(t, cfg, "trunk.outbound_uri", "sip:gw@"+net.JoinHostPort(e2e.Loopback, strconv.Itoa(gatewayPort)))
	})
	counselor := e2e.StartTonePhone(t, srv.addr, "1001", "demo-1001", e2e.CounselorToneHz, true)
	srv.login(t, "1001")
	caller := e2e.StartTonePhone(t, srv.addr, "7000", "", e2e.CallerToneHz, false)
	gateway := e2e.StartSipp(t, e2e.SippOptions{
		Scenario:  "uas_gateway.xml",
		LocalPort: gatewayPort,
		Vars:      map[string]string{"hold_ms": "60000"},
		Args:      []string{"-rtp_echo"},
		Timeout:   120 * time.Second,
	})

	caller.Command(t, "dial", "sip:120@"+srv.addr)
	callerCall := caller.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
	callerTimeline := e2e.Timeline{Established: time.Now()}
	counselor.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
	srv.waitConnected(t, callerCall.ID)

	callPath := "/api/v1/calls/" + callerCall.ID + "/emergency"
	status, body := srv.post(t, callPath, map[string]string{"target": "119"})
	if status != http.StatusAccepted || body["target"] != "119" {
		t.Fatalf("emergency: status %d %v, want 202 for 119", status, body)
	}
	joined := srv.waitEvent(t, events.EmergencyJoined, nil)
	if joined.CallID != callerCall.ID || joined.CounselorID != "1001" || joined.Data["target"] != "119" {
		t.Errorf("emergency_joined event = %+v, want call %s, counselor 1001, target 119", joined, callerCall.ID)
	}
	status, body = srv.post(t, callPath, map[string]string{"target": "112"})
	if status != http.StatusConflict {
		t.Errorf("second emergency target: status %d %v, want 409", status, body)
	}

	counselor.Hangup(t)
	counselor.WaitEvent(t, e2e.EventCallClosed, time.Minute)
	counselorLeft := time.Now()
	afterEnd := e2e.Measure(5 * time.Second)
	for _, event := range caller.Events() {
		if event.Type == e2e.EventCallClosed {
			t.Fatalf("the caller's call closed when the counselor left the emergency call: %+v", event)
		}
	}

	caller.Hangup(t)
	caller.WaitEvent(t, e2e.EventCallClosed, time.Minute)
	result := gateway.Wait(t)
	if result.ExitCode != 0 || !strings.Contains(result.Log, "the server sent BYE") {
		t.Errorf("gateway did not get the server's BYE when the caller hung up:\n%s", result.Report())
	}

	record, err := srv.app.records.Get(context.Background(), callerCall.ID)
	if err != nil {
		t.Fatalf("reading the record: %v", err)
	}
	if record.EmergencyTarget != "119" || record.Counselor != "1001" {
		t.Errorf("record emergency_target %q counselor %q, want 119 and 1001", record.EmergencyTarget, record.Counselor)
	}

	callerWAV := e2e.ReadRecording(t, caller, "caller")
	e2e.CheckHears(t, "caller", "after the counselor left", callerTimeline.Segment(t, callerWAV, counselorLeft, afterEnd),
		map[string]float64{"caller (echoed by the target)": e2e.CallerToneHz},
		map[string]float64{"counselor": e2e.CounselorToneHz})
}

// checkRejections checks the API's answers to requests the server must
// reject, on a running call.
func checkRejections(t *testing.T, srv *inProcessServer, callPath string) {
	t.Helper()
	cases := []struct {
		name   string
		path   string
		body   map[string]string
		status int
	}{
		{"not a supervisor", callPath + "/monitor", map[string]string{"supervisor": "1002", "mode": "listen"}, http.StatusForbidden},
		{"unknown call", "/api/v1/calls/no-such-call/monitor", map[string]string{"supervisor": "1003", "mode": "listen"}, http.StatusNotFound},
		{"bad mode", callPath + "/monitor", map[string]string{"supervisor": "1003", "mode": "spy"}, http.StatusUnprocessableEntity},
		{"emergency target not allowed", callPath + "/emergency", map[string]string{"target": "118"}, http.StatusForbidden},
		{"no outbound route", callPath + "/emergency", map[string]string{"target": "119"}, http.StatusUnprocessableEntity},
	}
	for _, c := range cases {
		status, body := srv.post(t, c.path, c.body)
		if status != c.status || body["error"] == "" {
			t.Errorf("%s: status %d %v, want %d with an error message", c.name, status, body, c.status)
		}
	}
}

// A supervisor dials the listen code followed by the counselor's id: the
// server confirms and hangs up, then rings the supervisor's phone into the
// counselor's call in listen mode.
func TestSupervisorMonitorCodeFromPhone(t *testing.T) {
	e2e.RequireTool(t, "baresip")
	srv := startInProcess(t, nil)
	counselor := e2e.StartTonePhone(t, srv.addr, "1001", "demo-1001", e2e.CounselorToneHz, true)
	srv.login(t, "1001")
	caller := e2e.StartTonePhone(t, srv.addr, "7000", "", e2e.CallerToneHz, false)

	caller.Command(t, "dial", "sip:120@"+srv.addr)
	callerCall := caller.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
	counselor.WaitEvent(t, e2e.EventCallEstablished, time.Minute)

	supervisor := e2e.StartTonePhone(t, srv.addr, "1003", "demo-1003", e2e.SupervisorToneHz, true)
	supervisor.Command(t, "dial", "sip:*311001@"+srv.addr)
	supervisor.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
	supervisor.WaitEvent(t, e2e.EventCallClosed, time.Minute)

	started := srv.waitEvent(t, events.MonitorStarted, monitorEvent("listen", "start"))
	if started.CallID != callerCall.ID {
		t.Errorf("monitor_started call = %s, want %s", started.CallID, callerCall.ID)
	}
	if started.Data["supervisor"] != "1003" {
		t.Errorf("monitor_started supervisor = %q, want 1003", started.Data["supervisor"])
	}
	supervisor.WaitEvent(t, e2e.EventCallEstablished, time.Minute)
}
