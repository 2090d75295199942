package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeServerPackage is the stand-in for cmd/helpline used to test the
// server helpers.
const fakeServerPackage = "./e2e/internal/fakehelpline"

func TestStartServerWithFakeBinary(t *testing.T) {
	server := StartServer(t, ServerOptions{
		Binary: BuildBinary(t, fakeServerPackage),
		Mutate: func(cfg map[string]any) {
			MustSetConfig(t, cfg, "queue.ring_timeout", "3s")
		},
		Env: []string{"HELPLINE_EXTRA=set-by-test"},
	})

	t.Run("config", func(t *testing.T) {
		data, err := os.ReadFile(server.ConfigPath)
		if err != nil {
			t.Fatalf("reading the written configuration: %v", err)
		}
		written := string(data)
		for _, want := range []string{
			"network: udp", "network: tcp", "address: " + server.Addr(),
			fmt.Sprintf("port_min: %d", server.RTP.Min), fmt.Sprintf("port_max: %d", server.RTP.Max),
			"data_dir: " + server.DataDir, "ring_timeout: 3s", "format: json", "allow_demo_key: false",
		} {
			if !strings.Contains(written, want) {
				t.Errorf("configuration lacks %q:\n%s", want, written)
			}
		}
	})

	t.Run("ready", func(t *testing.T) {
		entry := server.WaitLog(t, LogMessage(ReadyMessage), time.Second)
		if entry["level"] != "info" {
			t.Errorf("ready entry level = %v, want info", entry["level"])
		}
	})

	t.Run("records", func(t *testing.T) {
		peer := ListenUDP(t)
		message := RawSIP(t, "valid/options.sip", server.Addr(), peer.Addr(), map[string]string{"call_id": "harness-record-1"})
		peer.Send(t, server.Addr(), message)

		server.WaitLog(t, LogFields(map[string]any{"message": "sip datagram received", "call_id": "harness-record-1"}), 10*time.Second)
		record := server.WaitRecord(t, RecordWithCallID("harness-record-1"), 10*time.Second)
		if record["caller_number"] != "010******78" {
			t.Errorf("masked caller_number = %v, want 010******78", record["caller_number"])
		}

		revealed := server.ExportRecords(t, ExportOptions{Reveal: true, Since: time.Now().Add(-time.Hour)})
		if len(revealed) != 1 || revealed[0]["caller_number"] != "01012345678" {
			t.Errorf("revealed records = %v, want one with caller_number 01012345678", revealed)
		}
	})

	t.Run("stop", func(t *testing.T) {
		if code := server.Stop(t); code != 0 {
			t.Errorf("exit code after SIGTERM = %d, want 0", code)
		}
		if !server.Exited() {
			t.Error("server still running after Stop")
		}
		server.WaitLog(t, LogMessage("shutting down"), time.Second)
		if code := server.Stop(t); code != 0 {
			t.Errorf("second Stop = %d, want the same 0", code)
		}
	})
}

func TestServerEnvDropsInheritedSettings(t *testing.T) {
	t.Setenv("HELPLINE_SIP_REALM", "from-the-developer-shell")

	env := serverEnv(RecordsKeyEnv+"=key", []string{"HELPLINE_LOG_LEVEL=warn"})
	joined := strings.Join(env, "\n")
	if strings.Contains(joined, "from-the-developer-shell") {
		t.Error("inherited HELPLINE_SIP_REALM reached the server")
	}
	for _, want := range []string{RecordsKeyEnv + "=key", "HELPLINE_LOG_LEVEL=warn"} {
		if !strings.Contains(joined, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
}
