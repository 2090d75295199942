package sip

import (
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

// byeReasonRecorder is a legEvents that keeps the hang-up reasons it gets.
type byeReasonRecorder struct {
	reasons []string
}

func (h *byeReasonRecorder) legHangup(_ any, reason string) { h.reasons = append(h.reasons, reason) }
func (h *byeReasonRecorder) legDigit(any, rune)             {}
func (h *byeReasonRecorder) legReoffer(any, []byte) ([]byte, error) {
	return nil, nil
}

func TestLegByeLogsNoInfoLine(t *testing.T) {
	logs := &lockedBuffer{}
	log := zerolog.New(logs).Level(zerolog.InfoLevel)
	srv := &Server{log: log}
	tx := newRecordingTx()
	hangups := &byeReasonRecorder{}

	req := sipmsg.NewRequest(sipmsg.BYE, sipmsg.Uri{User: "120", Host: "127.0.0.1", Port: 5060})
	req.AppendHeader(sipmsg.NewHeader("Call-ID", "bye-log@127.0.0.1"))
	handleLegRequest(srv, nil, hangups, log, req, tx)

	if len(tx.responses) != 1 || tx.responses[0].StatusCode != sipmsg.StatusOK {
		t.Fatalf("responses to BYE = %v, want one 200", tx.responses)
	}
	if len(hangups.reasons) != 1 || hangups.reasons[0] != reasonBye {
		t.Errorf("hang-up reasons = %q, want [%q]", hangups.reasons, reasonBye)
	}
	// The call's end line reports the BYE, so the BYE itself writes no
	// line at info level.
	if got := strings.TrimSpace(logs.String()); got != "" {
		t.Errorf("info log after BYE = %s, want none", got)
	}
}
