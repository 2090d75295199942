package sip

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// pathOptionTag is the option tag of the Path extension (RFC 3327).
const pathOptionTag = "path"

// defaultSIPPort is the port of a sip URI that names none (RFC 3261
// section 19.1.2).
const defaultSIPPort = 5060

// Hop is the next hop of a request to a binding.
type Hop struct {
	// Destination is the host:port the request is sent to.
	Destination string
	// Transport is the lowercase transport, "udp" or "tcp".
	Transport string
	// Route lists the Route header URIs the request carries, top first.
	// It is empty when the request goes straight to the phone.
	Route []sipmsg.Uri
}

// NextHop returns where requests to this binding go. A binding without
// Path is reached at the source of its REGISTER. A binding with Path is
// reached through the Path (RFC 3327 section 5.4): the request goes to the
// first Path URI and carries the whole Path as Route headers, which loose
// routing (lr) keeps in front of the Request-URI. The exception is a Path
// that this registrar added for the other nodes (shared mode, REGISTER
// without Path): this node holds the phone's flow and sends to it directly.
func (b Binding) NextHop() (Hop, error) {
	if len(b.Path) == 0 || b.direct {
		return Hop{Destination: b.Source.String(), Transport: b.Transport}, nil
	}

	route := make([]sipmsg.Uri, 0, len(b.Path))
	for _, text := range b.Path {
		uri, err := parsePathURI(text)
		if err != nil {
			return Hop{}, fmt.Errorf("route to %s: %w", b.User, err)
		}
		route = append(route, uri)
	}

	destination, transport := uriHop(route[0], b.Transport)
	return Hop{Destination: destination, Transport: transport, Route: route}, nil
}

// uriHop returns the host:port and transport of a Route or Path URI. A URI
// without a transport parameter keeps fallback, the transport the
// binding's REGISTER arrived on, which reached that proxy before.
func uriHop(uri sipmsg.Uri, fallback string) (destination, transport string) {
	port := uri.Port
	if port == 0 {
		port = defaultSIPPort
	}
	host := strings.TrimSuffix(strings.TrimPrefix(uri.Host, "["), "]")

	transport = fallback
	if value, ok := uri.UriParams.Get("transport"); ok && value != "" {
		transport = strings.ToLower(value)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), transport
}

// parsePath returns the URIs of the Path headers of a REGISTER, top first
// (RFC 3327 section 4). One header may list several values separated by
// commas. A value that is not a sip or sips name-addr with a host is
// malformed.
func parsePath(req *sipmsg.Request) ([]string, error) {
	var path []string
	for _, header := range req.GetHeaders("Path") {
		for _, value := range splitHeaderList(header.Value()) {
			if !strings.Contains(value, "<") {
				return nil, fmt.Errorf("path value %q is not a name-addr in angle brackets: %w", value, ErrMalformedRegister)
			}
			var uri sipmsg.Uri
			var params sipmsg.HeaderParams
			if _, err := sipmsg.ParseAddressValue(value, &uri, &params); err != nil {
				return nil, fmt.Errorf("path value %q: %v: %w", value, err, ErrMalformedRegister)
			}
			if err := checkPathURI(uri); err != nil {
				return nil, fmt.Errorf("path value %q: %w: %w", value, err, ErrMalformedRegister)
			}
			path = append(path, uri.String())
		}
	}
	return path, nil
}

// parsePathURI parses one stored Path URI.
func parsePathURI(text string) (sipmsg.Uri, error) {
	var uri sipmsg.Uri
	if err := sipmsg.ParseUri(text, &uri); err != nil {
		return sipmsg.Uri{}, fmt.Errorf("parse path uri %q: %w", text, err)
	}
	if err := checkPathURI(uri); err != nil {
		return sipmsg.Uri{}, fmt.Errorf("path uri %q: %w", text, err)
	}
	return uri, nil
}

func checkPathURI(uri sipmsg.Uri) error {
	scheme := strings.ToLower(uri.Scheme)
	if (scheme != "sip" && scheme != "sips") || uri.Host == "" {
		return fmt.Errorf("not a sip or sips uri with a host")
	}
	return nil
}

// splitHeaderList splits a header value at the commas that separate list
// elements, keeping commas inside quoted strings and angle brackets.
func splitHeaderList(value string) []string {
	var (
		parts   []string
		start   int
		quoted  bool
		escaped bool
		angle   bool
	)
	for i, c := range value {
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == ',' && !angle:
			parts = appendTrimmed(parts, value[start:i])
			start = i + 1
		}
	}
	return appendTrimmed(parts, value[start:])
}

func appendTrimmed(parts []string, part string) []string {
	if part = strings.TrimSpace(part); part != "" {
		parts = append(parts, part)
	}
	return parts
}

// supportsPath reports whether a request lists the path option tag in a
// Supported header (compact form k).
func supportsPath(req *sipmsg.Request) bool {
	for _, name := range []string{"Supported", "k"} {
		for _, header := range req.GetHeaders(name) {
			for _, tag := range strings.Split(header.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(tag), pathOptionTag) {
					return true
				}
			}
		}
	}
	return false
}

// pathHeader returns one Path header listing path, top first.
func pathHeader(path []string) sipmsg.Header {
	values := make([]string, len(path))
	for i, uri := range path {
		values[i] = "<" + uri + ">"
	}
	return sipmsg.NewHeader("Path", strings.Join(values, ", "))
}

// ownPath returns the Path this node stores for a phone that registered
// without Path in shared mode: this node's URI for the REGISTER's
// transport (or the first transport it has an address for), marked lr and
// carrying the phone's flow as hl-flow. The other nodes send through it,
// and this node relays to the flow. ok is false when no address is known.
func (r *Registrar) ownPath(origin registerOrigin) (path []string, ok bool) {
	transport := origin.transport
	address, found := r.nodeAddresses[transport]
	if !found {
		for _, candidate := range []string{"udp", "tcp"} {
			if address, found = r.nodeAddresses[candidate]; found {
				transport = candidate
				break
			}
		}
	}
	if !found {
		return nil, false
	}

	token := FlowToken(origin.transport, origin.source.String())
	uri := fmt.Sprintf("sip:%s;transport=%s;lr;%s=%s", address, transport, flowTokenParam, token)
	return []string{uri}, true
}
