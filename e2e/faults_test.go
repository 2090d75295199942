package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	// Registers the SQLite driver for the integrity check.
	_ "modernc.org/sqlite"
)

// A SIGKILL cuts off a caller in the IVR, one waiting in the queue and one
// talking to a counselor. The next start closes each record as interrupted
// and gives each caller with a number one follow-up task. A caller in the
// IVR who withheld the number gets the record but no task, because there
// is no number to call back. The record of a call that ended before the
// kill stays as it was, and the database passes SQLite's integrity check.
func TestKillLeavesInterruptedRecordsAndTasks(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")
	dataDir := t.TempDir()
	longIVR := func(cfg map[string]any) {
		MustSetConfig(t, cfg, "records.data_dir", dataDir)
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

	tasks := interruptedTasks(t, second)
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

// interruptedTasks returns the open follow-up tasks of kind interrupted,
// by call id.
func interruptedTasks(t *testing.T, srv *Server) map[string]map[string]any {
	t.Helper()
	answer := srv.API(t, http.MethodGet, "/api/v1/followups?state=open&kind=interrupted", nil)
	if answer.Status != http.StatusOK {
		t.Fatalf("listing follow-up tasks: %s", answer)
	}
	list, _ := answer.Body["followups"].([]any)
	tasks := make(map[string]map[string]any)
	for _, item := range list {
		task, _ := item.(map[string]any)
		id, _ := task["call_id"].(string)
		if _, dup := tasks[id]; dup {
			t.Errorf("call %s has two interrupted follow-up tasks", id)
		}
		tasks[id] = task
	}
	return tasks
}
