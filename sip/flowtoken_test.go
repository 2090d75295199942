package sip

import (
	"errors"
	"testing"
)

func TestFlowTokenRoundTrip(t *testing.T) {
	tests := []struct {
		transport, addr string
		wantToken       string
		wantTransport   string
		wantAddr        string
	}{
		{"udp", "192.0.2.7:5062", "udp~192.0.2.7~5062", "udp", "192.0.2.7:5062"},
		{"TCP", "127.0.0.1:40000", "tcp~127.0.0.1~40000", "tcp", "127.0.0.1:40000"},
		{"udp", "[2001:db8::7]:5060", "udp~2001:db8::7~5060", "udp", "[2001:db8::7]:5060"},
		{"tls", "[::ffff:192.0.2.9]:5061", "tls~192.0.2.9~5061", "tls", "192.0.2.9:5061"},
	}
	for _, tc := range tests {
		t.Run(tc.wantToken, func(t *testing.T) {
			token := FlowToken(tc.transport, tc.addr)
			if token != tc.wantToken {
				t.Errorf("FlowToken(%q, %q) = %q, want %q", tc.transport, tc.addr, token, tc.wantToken)
			}
			transport, addr, err := ParseFlowToken(token)
			if err != nil {
				t.Fatalf("ParseFlowToken(%q): %v", token, err)
			}
			if transport != tc.wantTransport {
				t.Errorf("transport = %q, want %q", transport, tc.wantTransport)
			}
			if addr != tc.wantAddr {
				t.Errorf("addr = %q, want %q", addr, tc.wantAddr)
			}
		})
	}
}

func TestFlowTokenInvalidAddress(t *testing.T) {
	if token := FlowToken("udp", "phone.example.test:5060"); token != "" {
		t.Errorf("FlowToken of a host name = %q, want empty", token)
	}
}

func TestParseFlowTokenRejects(t *testing.T) {
	tokens := []string{
		"",
		"udp~127.0.0.1",
		"udp~127.0.0.1~5060~x",
		"sctp~127.0.0.1~5060",
		"udp~phone.example.test~5060",
		"udp~fe80::1%eth0~5060",
		"udp~127.0.0.1~0",
		"udp~127.0.0.1~65536",
		"udp~127.0.0.1~-1",
	}
	for _, token := range tokens {
		t.Run(token, func(t *testing.T) {
			if _, _, err := ParseFlowToken(token); !errors.Is(err, ErrInvalidFlowToken) {
				t.Errorf("ParseFlowToken(%q) error = %v, want ErrInvalidFlowToken", token, err)
			}
		})
	}
}

func FuzzParseFlowToken(f *testing.F) {
	for _, seed := range []string{"udp~127.0.0.1~5060", "tcp~::1~1", "x~~", "udp~1.2.3.4~65535"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		transport, addr, err := ParseFlowToken(token)
		if err != nil {
			return
		}
		// A token that parses encodes its own flow again.
		if again := FlowToken(transport, addr); again == "" {
			t.Errorf("FlowToken(%q, %q) is empty for a parsed token %q", transport, addr, token)
		}
	})
}
