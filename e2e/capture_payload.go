package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Payloads reads the stopped capture's pcap file again with tshark and
// returns the RTP payloads of the packets sent to port, in capture order.
// Stop the capture first.
func (c *RTPCapture) Payloads(t testing.TB, port int) [][]byte {
	t.Helper()

	tshark := RequireTool(t, "tshark")
	if c.proc.running() {
		c.Stop(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), captureStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tshark, "-r", c.File,
		"-d", "udp.port=="+strconv.Itoa(c.Port)+",rtp",
		"-Y", "rtp && udp.dstport == "+strconv.Itoa(port),
		"-T", "fields", "-e", "rtp.payload")
	cmd.WaitDelay = waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("reading RTP payloads from %s: %v\n%s", c.File, err, stderr.String())
	}

	payloads, err := parsePayloadLines(stdout.Bytes())
	if err != nil {
		t.Fatalf("reading RTP payloads from %s: %v", c.File, err)
	}
	return payloads
}

// parsePayloadLines decodes one hex payload per line. tshark separates
// the bytes with colons in some versions and not in others.
func parsePayloadLines(data []byte) ([][]byte, error) {
	var payloads [][]byte
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for line := 1; scanner.Scan(); line++ {
		text := strings.ReplaceAll(strings.TrimSpace(scanner.Text()), ":", "")
		payload, err := hex.DecodeString(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: payload %q is not hex: %w", line, text, err)
		}
		payloads = append(payloads, payload)
	}
	return payloads, scanner.Err()
}
