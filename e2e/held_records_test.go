package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A SIGTERM while the records folder is full saves the held call records
// to a fallback file outside that folder, and the next start loads them,
// so the call that came during the outage has its record.
func TestShutdownDuringOutageKeepsRecords(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	heldDir := filepath.Join(t.TempDir(), "held")
	srv := StartServer(t, ServerOptions{
		Wrapper: tmpfsWrapper(t, dataDir, recordsTmpfsSize),
		Mutate: func(cfg map[string]any) {
			MustSetConfig(t, cfg, "records.data_dir", dataDir)
			MustSetConfig(t, cfg, "records.spool.retry_interval", "200ms")
			MustSetConfig(t, cfg, "records.spool.fallback_dir", heldDir)
		},
	})

	fillDisk(t, filepathInServer(srv, dataDir))
	call := answeredCall(t, srv, "udp", nil)
	srv.WaitLog(t, logPrefix("records store unavailable"), logTimeout)
	wantStatus(t, "BYE", call.Request("BYE", nil, "", ""), 200)
	srv.WaitLog(t, LogFields(map[string]any{"message": "call ended", "call_id": call.CallID()}), logTimeout)

	if code := srv.Stop(t); code != 0 {
		t.Fatalf("server exited with code %d on SIGTERM during the outage", code)
	}
	for _, entry := range srv.Logs() {
		if message, _ := entry["message"].(string); strings.HasPrefix(message, "records store unavailable at shutdown") {
			t.Logf("shutdown wait logged: %s", message)
		}
	}
	if n := countMatchingLogs(srv, logPrefix("records store unavailable at shutdown: waiting up to ")); n != 1 {
		t.Errorf("%d shutdown wait lines, want 1 before the wait", n)
	}
	saved := srv.WaitLog(t, logPrefix("records store still unavailable at shutdown: held call records and events saved"), logTimeout)
	file, _ := saved["file"].(string)
	t.Logf("shutdown saved %v held writes to %s", saved["writes"], file)
	if !strings.HasPrefix(file, heldDir) {
		t.Fatalf("fallback file %q is not in records.spool.fallback_dir %s", file, heldDir)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatalf("the fallback file the log names: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("fallback file mode = %o, want 600", mode)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the fallback file: %v", err)
	}
	if bytes.Contains(data, []byte("01012345678")) {
		t.Errorf("the fallback file holds the caller's number in plaintext")
	}

	// The tmpfs left with the first run, so the second one starts on an
	// empty records folder on the test's disk.
	srv.wrapper = nil
	srv.Restart(t, logTimeout)
	srv.WaitLog(t, logPrefix("held call records saved at the last shutdown loaded into the records"), logTimeout)
	if _, err := os.Stat(file + ".done"); err != nil {
		t.Errorf("the loaded fallback file was not renamed to .done: %v", err)
	}

	list := srv.Records(t)
	if n := countCallIDs(list)[call.CallID()]; n != 1 {
		t.Fatalf("the call during the outage has %d records after the restart, want 1", n)
	}
	rec := recordsByCallID(t, list)[call.CallID()]
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_ivr", "caller_number": "010-****-5678"})
	if !hasEvent(srv.Events(t), call.CallID(), "call_ended") {
		t.Errorf("the call during the outage has no call_ended event after the restart")
	}
}

// filepathInServer returns the path under which the test reaches dir as
// the server's mount namespace sees it.
func filepathInServer(srv *Server, dir string) string {
	return filepath.Join("/proc", strconv.Itoa(srv.PID()), "root", dir)
}
