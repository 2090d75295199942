package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// flowTokenSeparator joins the parts of a flow token. It is an unreserved
// URI character (RFC 3261 section 25.1), so a token needs no escaping in a
// URI parameter, and it never occurs in an IP address or a port.
const flowTokenSeparator = "~"

// flowTokenParam is the URI parameter of a node's own Path URI that carries
// the flow token of the phone behind it.
const flowTokenParam = "hl-flow"

// ErrInvalidFlowToken marks a flow token that is not
// <transport>~<ip>~<port> with a known transport, an IP address and a port
// from 1 to 65535.
var ErrInvalidFlowToken = errors.New("invalid flow token")

// flowTransports are the transports a flow token may name.
var flowTransports = map[string]bool{"udp": true, "tcp": true, "tls": true}

// FlowToken encodes the flow a phone registered over as
// <transport>~<ip>~<port>, for example "udp~192.0.2.7~5062" or
// "tcp~2001:db8::7~5062". transport is lowercased. addr is the phone's
// source address as ip:port ([ip]:port for IPv6). An addr that is not
// ip:port gives the empty token, which ParseFlowToken rejects.
func FlowToken(transport, addr string) string {
	source, err := netip.ParseAddrPort(addr)
	if err != nil {
		return ""
	}
	return strings.Join([]string{
		strings.ToLower(transport),
		source.Addr().Unmap().String(),
		strconv.Itoa(int(source.Port())),
	}, flowTokenSeparator)
}

// ParseFlowToken decodes a token made by FlowToken. It returns the
// lowercase transport and the address as ip:port ([ip]:port for IPv6), or
// an error wrapping ErrInvalidFlowToken.
func ParseFlowToken(token string) (transport, addr string, err error) {
	parts := strings.Split(token, flowTokenSeparator)
	if len(parts) != 3 {
		return "", "", fmt.Errorf("%w: %q has %d parts, expected transport~ip~port", ErrInvalidFlowToken, token, len(parts))
	}

	transport = strings.ToLower(parts[0])
	if !flowTransports[transport] {
		return "", "", fmt.Errorf("%w: transport %q in %q is not udp, tcp or tls", ErrInvalidFlowToken, parts[0], token)
	}

	ip, err := netip.ParseAddr(parts[1])
	if err != nil || ip.Zone() != "" {
		return "", "", fmt.Errorf("%w: %q in %q is not an IP address", ErrInvalidFlowToken, parts[1], token)
	}

	port, err := strconv.ParseUint(parts[2], 10, 16)
	if err != nil || port == 0 {
		return "", "", fmt.Errorf("%w: port %q in %q is not a number from 1 to 65535", ErrInvalidFlowToken, parts[2], token)
	}
	return transport, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String(), nil
}
