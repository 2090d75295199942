package cluster

import (
	"os"
	"strings"
	"testing"

	"helpline/config"
)

func TestNodeIDFromConfig(t *testing.T) {
	id, err := NodeID(config.Cluster{NodeID: "seoul-1"})
	if err != nil || id != "seoul-1" {
		t.Errorf("NodeID = %q, %v, want seoul-1", id, err)
	}
}

func TestNodeIDFromHostName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("host name unreadable here: %v", err)
	}
	id, err := NodeID(config.Cluster{})
	if err != nil {
		t.Fatalf("NodeID: %v", err)
	}
	if id != sanitizeNodeID(host) || id == "" {
		t.Errorf("NodeID = %q, want the sanitized host name %q", id, sanitizeNodeID(host))
	}
}

func TestSanitizeNodeID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "node_1-a", want: "node_1-a"},
		{name: "domain", in: "pbx1.example.org", want: "pbx1-example-org"},
		{name: "non-ascii", in: "상담-1", want: "---1"},
		{name: "long", in: strings.Repeat("x", 80), want: strings.Repeat("x", maxNodeIDLength)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitizeNodeID(tt.in); got != tt.want {
				t.Errorf("sanitizeNodeID(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
