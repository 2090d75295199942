package sip

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

// tortureDir holds the RFC 4475 messages of the end-to-end hostile-input
// test, with placeholders for addresses.
const tortureDir = "../e2e/testdata/torture"

// fillTorture replaces the placeholders of a torture message as the
// end-to-end test does, with the trunk's address as the sender.
func fillTorture(data []byte) []byte {
	replacer := strings.NewReplacer("{{target}}", "127.0.0.1:5060", "{{local}}", fuzzTrunkSource, "{{transport}}", "UDP")
	data = []byte(replacer.Replace(string(data)))
	_, body, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	return bytes.ReplaceAll(data, []byte("{{content_length}}"), []byte(strconv.Itoa(len(body))))
}

// Each RFC 4475 message of the end-to-end test, without sockets. A
// request that fails to parse gets the UDP read filter's 400 or 505, and
// a response that fails to parse gets nothing. A message that parses goes
// through the handlers without a panic, and gets one final response
// unless it is an ACK.
func TestTortureMessagesAtHandlers(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(tortureDir, "*.sip"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("listing %s: %d files, %v", tortureDir, len(paths), err)
	}
	logs := &errorLog{}
	srv := newFuzzServer(t, logs)
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".sip"), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading the message: %v", err)
			}
			data := fillTorture(raw)
			isRequest := !bytes.HasPrefix(data, []byte("SIP/"))

			msg, err := sipmsg.ParseMessage(data)
			if err != nil {
				response, status := unparsableResponse(data, "helpline-test")
				if isRequest && (status != sipmsg.StatusBadRequest && status != sipmsg.StatusVersionNotSupported || response == nil) {
					t.Errorf("unparsable request (%v) gets status %d, want 400 or 505", err, status)
				}
				if !isRequest && response != nil {
					t.Errorf("unparsable response gets a response:\n%s", response)
				}
				return
			}
			req, ok := msg.(*sipmsg.Request)
			if !ok || !reachesHandlers(req) {
				return
			}
			req.SetSource(fuzzTrunkSource)
			req.SetTransport("UDP")
			checkResponses(t, req, serveAndCollect(t, srv, logs, req))
		})
	}
}
