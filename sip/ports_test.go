package sip

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"helpline/media"
	"helpline/routing"
)

// exhaustedServer returns a server whose RTP port range of one port is
// taken, and the buffer its log goes to.
func exhaustedServer(t *testing.T) (*Server, *lockedBuffer) {
	t.Helper()
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), 1024, 1024)
	if err != nil {
		t.Fatalf("NewPortRange: %v", err)
	}
	// The one port is then taken, by this range or by another program.
	if conn, err := ports.Allocate(); err == nil {
		t.Cleanup(func() { ports.Release(conn) })
	}
	logs := &lockedBuffer{}
	srv := &Server{
		ports:           ports,
		log:             zerolog.New(logs),
		portShortageLog: logGate{interval: portShortageLogInterval},
	}
	return srv, logs
}

// An offer that finds no free RTP port is the server's failure, not the
// counselor's. The log names the range that ran out and the fix, once
// per interval however many offers fail.
func TestOfferWithoutRTPPortIsServerError(t *testing.T) {
	srv, logs := exhaustedServer(t)

	for range 3 {
		result := srv.dialProfile(t.Context(), dialRequest{toUser: testUser, codec: media.PCMU, log: zerolog.Nop()}, profilePlain)
		if result.outcome != routing.ServerError {
			t.Errorf("outcome = %v, expected server_error", result.outcome)
		}
		if !errors.Is(result.err, ErrNoMediaPort) || !errors.Is(result.err, media.ErrPortsExhausted) {
			t.Errorf("error = %v, expected ErrNoMediaPort wrapping media.ErrPortsExhausted", result.err)
		}
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines for 3 failed offers, expected 1:\n%s", len(lines), logs.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, lines[0])
	}
	if entry["level"] != "error" {
		t.Errorf("level = %v, expected error", entry["level"])
	}
	if entry["port_min"] != float64(1024) || entry["port_max"] != float64(1024) {
		t.Errorf("port_min, port_max = %v, %v, expected 1024, 1024", entry["port_min"], entry["port_max"])
	}
	message, _ := entry["message"].(string)
	for _, want := range []string{"rtp.port_min", "rtp.port_max", "widen", "reduce the load"} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q lacks %q", message, want)
		}
	}
}
