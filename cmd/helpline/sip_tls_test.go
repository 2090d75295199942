package main

import (
	"net/netip"
	"testing"

	"helpline/config"
)

func TestNodeAddressesLeaveOutTLS(t *testing.T) {
	cfg := &config.Config{SIP: config.SIP{
		PublicHost: "192.0.2.10",
		Listen: []config.Listener{
			{Network: "udp", Address: netip.MustParseAddrPort("0.0.0.0:5060")},
			{Network: "tcp", Address: netip.MustParseAddrPort("0.0.0.0:5060")},
			{Network: "tls", Address: netip.MustParseAddrPort("0.0.0.0:5061")},
		},
	}}
	got := nodeAddresses(cfg)
	if len(got) != 2 || got["udp"] != "192.0.2.10:5060" || got["tcp"] != "192.0.2.10:5060" {
		t.Errorf("nodeAddresses = %v, expected udp and tcp on 192.0.2.10:5060 only", got)
	}
	if _, ok := got["tls"]; ok {
		t.Errorf("nodeAddresses lists tls: %v", got)
	}
}
