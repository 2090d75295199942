package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	// Registers the SQLite driver for the integrity check.
	_ "modernc.org/sqlite"
)

// A SIGKILL cuts off a caller in the IVR, one waiting in the queue and one
// talking to a counselor. The next start closes each record as interrupted
// and gives each caller with a number one follow-up task and one callback
// task. A caller in the IVR who withheld the number gets the record but no
// task, because there is no number to call back. The record of a call that
// ended before the kill stays as it was, and the database passes SQLite's
// integrity check.
func TestKillLeavesInterruptedRecordsAndTasks(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")
	dataDir := t.TempDir()
	// Nothing listens at the gateway: no counselor is free after the
	// restart, so the callback tasks wait without dialling.
	gateway := "sip:gateway@" + net.JoinHostPort(Loopback, strconv.Itoa(FreePort(t)))
	longIVR := func(cfg map[string]any) {
		MustSetConfig(t, cfg, "records.data_dir", dataDir)
		MustSetConfig(t, cfg, "trunk.outbound_uri", gateway)
		// The caller who presses nothing stays in the first menu.
		MustSetConfig(t, cfg, "ivr.nodes.welcome.collect.first_digit_timeout", "300s")
	}
	first := StartServer(t, ServerOptions{Mutate: longIVR})

	ended := answeredCall(t, first, "udp", nil)
	wantStatus(t, "BYE", ended.Request("BYE", nil, "", ""), 200)
	endedBefore := waitEndedRecord(t, first, ended.CallID())

	talking, _, _ := bridgedCall(t, first, "1001")
	waiting := answeredCall(t, first, "udp", nil)
	queueRawCall(t, first, waiting)
	inIVR := answeredCall(t, first, "udp", nil)
	withheld := answeredCall(t, first, "udp", []string{"Privacy: id"})
	for _, call := range []*RawCall{inIVR, withheld} {
		first.WaitRecord(t, RecordWithCallID(call.CallID()), recordTimeout)
	}

	first.Kill(t)
	checkIntegrity(t, filepath.Join(dataDir, "records.db"))

	second := StartServer(t, ServerOptions{RecordsKey: first.RecordsKey, Mutate: longIVR})
	second.WaitLog(t, LogFields(map[string]any{"message": "calls left open by the last run marked interrupted", "calls": 4}), logTimeout)

	byID := recordsByCallID(t, second.Records(t))
	if len(byID) != 5 {
		t.Errorf("%d call ids have records, want the 5 answered calls", len(byID))
	}
	for id, count := range countCallIDs(second.Records(t)) {
		if count != 1 {
			t.Errorf("call %s has %d records, want exactly 1", id, count)
		}
	}
	cut := map[string]*RawCall{"talking": talking, "waiting": waiting, "in the IVR": inIVR, "withheld in the IVR": withheld}
	for name, call := range cut {
		rec, ok := byID[call.CallID()]
		if !ok {
			t.Errorf("caller %s has no record", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			wantRecord(t, rec, map[string]string{"outcome": "interrupted", "hangup_side": "server", "hangup_reason": "server restarted"})
		})
	}
	wantRecord(t, byID[talking.CallID()], map[string]string{"counselor": "1001", "queue": "loneliness_ko"})
	wantRecord(t, byID[waiting.CallID()], map[string]string{"queue": "loneliness_ko", "counselor": ""})
	wantRecord(t, byID[inIVR.CallID()], map[string]string{"queue": "", "digits": ""})
	for key, value := range endedBefore {
		if got := byID[ended.CallID()][key]; fmt.Sprint(got) != fmt.Sprint(value) {
			t.Errorf("call ended before the kill: %s = %v after the restart, was %v", key, got, value)
		}
	}

	tasks := apiTasksByCallID(t, second, "/api/v1/followups?state=open&kind=interrupted", "followups")
	for _, call := range []*RawCall{talking, waiting, inIVR} {
		task, ok := tasks[call.CallID()]
		if !ok {
			t.Errorf("call %s has no open interrupted follow-up task; tasks: %v", call.CallID(), tasks)
			continue
		}
		if task["number"] != "010-****-5678" || task["state"] != "open" {
			t.Errorf("follow-up task of %s = %v, want an open task with the masked number", call.CallID(), task)
		}
	}
	if _, ok := tasks[withheld.CallID()]; ok {
		t.Errorf("the withheld caller got a follow-up task, which has no number to call")
	}
	if len(tasks) != 3 {
		t.Errorf("%d interrupted follow-up tasks, want 3: %v", len(tasks), tasks)
	}

	callbacks := apiTasksByCallID(t, second, "/api/v1/callbacks", "callbacks")
	wantQueues := map[*RawCall]string{talking: "loneliness_ko", waiting: "loneliness_ko", inIVR: "loneliness_ko"}
	for call, queueName := range wantQueues {
		task, ok := callbacks[call.CallID()]
		if !ok {
			t.Errorf("call %s has no callback task; tasks: %v", call.CallID(), callbacks)
			continue
		}
		if task["reason"] != "interrupted" || task["state"] != "pending" || task["queue"] != queueName {
			t.Errorf("callback task of %s = %v, want a pending interrupted task in %s", call.CallID(), task, queueName)
		}
	}
	if _, ok := callbacks[withheld.CallID()]; ok {
		t.Errorf("the withheld caller got a callback task, which has no number to dial")
	}

	requested := make(map[string]bool)
	for _, e := range second.Events(t) {
		if eventField(e, "type") == "callback_requested" && eventData(e, "reason") == "interrupted" {
			requested[eventData(e, "call_id")] = true
		}
	}
	for _, call := range []*RawCall{talking, waiting, inIVR} {
		if !requested[call.CallID()] {
			t.Errorf("the event log has no callback_requested event for call %s", call.CallID())
		}
	}
}

// checkIntegrity runs SQLite's integrity_check on the database at path.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&result); err != nil {
		t.Fatalf("integrity check of %s: %v", path, err)
	}
	if result != "ok" {
		t.Errorf("integrity check of %s = %q, want ok", path, result)
	}
}

// recordsByCallID indexes records by call id.
func recordsByCallID(t *testing.T, list []map[string]any) map[string]map[string]any {
	t.Helper()
	byID := make(map[string]map[string]any, len(list))
	for _, rec := range list {
		byID[recordField(rec, "call_id")] = rec
	}
	return byID
}

// countCallIDs counts the records of each call id.
func countCallIDs(list []map[string]any) map[string]int {
	counts := make(map[string]int)
	for _, rec := range list {
		counts[recordField(rec, "call_id")]++
	}
	return counts
}

// apiTasksByCallID lists the tasks that GET path returns under key, by
// call id, and fails the test when one call has two.
func apiTasksByCallID(t *testing.T, srv *Server, path, key string) map[string]map[string]any {
	t.Helper()
	answer := srv.API(t, http.MethodGet, path, nil)
	if answer.Status != http.StatusOK {
		t.Fatalf("GET %s: %s", path, answer)
	}
	list, _ := answer.Body[key].([]any)
	tasks := make(map[string]map[string]any)
	for _, item := range list {
		task, _ := item.(map[string]any)
		id, _ := task["call_id"].(string)
		if _, dup := tasks[id]; dup {
			t.Errorf("GET %s lists two tasks for call %s", path, id)
		}
		tasks[id] = task
	}
	return tasks
}

// recordsTmpfsSize is the size of the tmpfs that holds the records
// database in TestDiskFullKeepsCallsAndRecords: room for the schema and a
// few calls, and quick to fill.
const recordsTmpfsSize = "8m"

// The records folder fills up while calls come in: the server still takes
// the calls, /readyz returns 503 with the reason, the log reports it once,
// and once space is freed every call's record and events are written,
// each once.
func TestDiskFullKeepsCallsAndRecords(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	srv := StartServer(t, ServerOptions{
		Wrapper: tmpfsWrapper(t, dataDir, recordsTmpfsSize),
		Mutate: func(cfg map[string]any) {
			MustSetConfig(t, cfg, "records.data_dir", dataDir)
			MustSetConfig(t, cfg, "records.spool.retry_interval", "200ms")
			MustSetConfig(t, cfg, "ivr.nodes.welcome.collect.first_digit_timeout", "300s")
		},
	})
	// The test reaches the tmpfs through /proc/PID/root. SQLite resolves
	// that link to "/", so the records commands join the server's
	// namespaces instead.
	view := fmt.Sprintf("/proc/%d/root%s", srv.PID(), dataDir)
	RequireTool(t, "nsenter")
	srv.RunRecordsCommandsIn([]string{"nsenter", "--target", strconv.Itoa(srv.PID()), "--user", "--mount", "--preserve-credentials"})

	before := answeredCall(t, srv, "udp", nil)
	wantStatus(t, "BYE", before.Request("BYE", nil, "", ""), 200)
	waitEndedRecord(t, srv, before.CallID())
	counselorPhone(t, srv, "1001", true)
	srv.WaitReady(t, http.StatusOK, logTimeout)

	filler := fillDisk(t, view)
	var during []*RawCall
	for range 3 {
		during = append(during, answeredCall(t, srv, "udp", nil))
	}
	outage := srv.WaitLog(t, logPrefix("records store unavailable"), logTimeout)
	t.Logf("outage logged: %s (error: %v)", outage["message"], outage["error"])
	srv.WaitReady(t, http.StatusServiceUnavailable, logTimeout)
	ready := srv.API(t, http.MethodGet, "/readyz", nil)
	if reasons := fmt.Sprint(ready.Body["reasons"]); !strings.Contains(reasons, "held in memory") {
		t.Errorf("/readyz reasons = %s, want the records reason", reasons)
	}
	for _, call := range during {
		wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": "call ended", "call_id": during[len(during)-1].CallID()}), logTimeout)
	heldIVR := metricValue(t, srv, "helpline_records_spool_depth")

	talked := answeredCall(t, srv, "udp", nil)
	queueRawCall(t, srv, talked)
	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor answered, bridging", "call_id": talked.CallID()}), logTimeout)
	wantStatus(t, "BYE", talked.Request("BYE", nil, "", ""), 200)
	srv.WaitLog(t, LogFields(map[string]any{"message": "call ended", "call_id": talked.CallID()}), logTimeout)
	heldAll := metricValue(t, srv, "helpline_records_spool_depth")
	t.Logf("writes held: %.0f for %d calls that ended in the IVR, %.0f for one call with a counselor",
		heldIVR, len(during), heldAll-heldIVR)
	if unavailable := metricValue(t, srv, "helpline_records_store_unavailable"); unavailable != 1 {
		t.Errorf("helpline_records_store_unavailable = %v during the outage, want 1", unavailable)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatalf("freeing the records folder: %v", err)
	}
	recovery := srv.WaitLog(t, logPrefix("records store works again"), logTimeout)
	t.Logf("recovery logged after %v s", recovery["outage"])
	srv.WaitReady(t, http.StatusOK, logTimeout)

	for _, message := range []string{"records store unavailable", "records store works again"} {
		if n := countMatchingLogs(srv, logPrefix(message)); n != 1 {
			t.Errorf("%d log lines start with %q, want 1 for the whole outage", n, message)
		}
	}
	list := srv.Records(t)
	counts := countCallIDs(list)
	byID := recordsByCallID(t, list)
	for _, call := range append([]*RawCall{before}, during...) {
		if counts[call.CallID()] != 1 {
			t.Errorf("call %s has %d records, want exactly 1", call.CallID(), counts[call.CallID()])
			continue
		}
		wantRecord(t, byID[call.CallID()], map[string]string{"outcome": "abandoned_in_ivr", "hangup_side": "caller"})
		if recordField(byID[call.CallID()], "ended_at") == "" {
			t.Errorf("call %s has no end time", call.CallID())
		}
	}
	if counts[talked.CallID()] != 1 {
		t.Errorf("the call with a counselor has %d records, want exactly 1", counts[talked.CallID()])
	}
	wantRecord(t, byID[talked.CallID()], map[string]string{"outcome": "answered", "counselor": "1001", "digits": "51"})

	evs := srv.Events(t)
	for _, call := range append(during, talked) {
		ends := 0
		for _, e := range callEvents(evs, call.CallID()) {
			if eventField(e, "type") == "call_ended" {
				ends++
			}
		}
		if ends != 1 {
			t.Errorf("call %s has %d call_ended events, want 1", call.CallID(), ends)
		}
	}
	if !hasEvent(evs, talked.CallID(), "connected") {
		t.Errorf("the call with a counselor has no connected event")
	}
	for _, kind := range []string{"records_unavailable", "records_recovered"} {
		if !hasEvent(evs, "", kind) {
			t.Errorf("the event log has no %s event", kind)
		}
	}
	checkIntegrity(t, copyDatabase(t, view))
}

// copyDatabase copies the records database and its write-ahead log from
// dir into a new folder and returns the copy's path. The server must be
// idle, so that the two files match.
func copyDatabase(t *testing.T, dir string) string {
	t.Helper()
	copyDir := t.TempDir()
	for _, name := range []string{"records.db", "records.db-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), data, 0o600); err != nil {
			t.Fatalf("copying %s: %v", name, err)
		}
	}
	return filepath.Join(copyDir, "records.db")
}

// tmpfsWrapper returns a ServerOptions.Wrapper that starts the server in
// its own user and mount namespaces, with a tmpfs of size mounted on dir.
// It works for root and, where the kernel allows user namespaces, for
// other users. Under CI=true a missing unshare or a refused namespace
// fails the test instead of skipping it.
func tmpfsWrapper(t *testing.T, dir, size string) []string {
	t.Helper()
	RequireTool(t, "unshare")
	script := `mount -t tmpfs -o size=` + size + `,mode=0700 helpline-records "$1" && shift && exec "$@"`
	wrapper := []string{"unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", dir}

	probe := exec.Command(wrapper[0], append(wrapper[1:], "true")...)
	if out, err := probe.CombinedOutput(); err != nil {
		message := fmt.Sprintf("cannot mount a tmpfs in a user and mount namespace (%v): %s", err, out)
		if Strict() {
			t.Fatalf("%s; CI=true requires it", message)
		}
		t.Skip(message)
	}
	return wrapper
}

// fillDisk writes a file into dir until its file system is full and
// returns the file's path. Removing the file frees the space again.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatalf("creating the filler file: %v", err)
	}
	defer file.Close()
	chunk := make([]byte, 64*1024)
	for {
		if _, err := file.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			break
		}
	}
	// The last chunk may have been written in part, leaving a few bytes:
	// write them one by one.
	for {
		if _, err := file.Write(chunk[:1]); err != nil {
			break
		}
	}
	return path
}

// logPrefix matches log entries whose message starts with prefix.
func logPrefix(prefix string) func(map[string]any) bool {
	return func(entry map[string]any) bool {
		message, _ := entry["message"].(string)
		return strings.HasPrefix(message, prefix)
	}
}
