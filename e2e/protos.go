package e2e

import (
	"fmt"
	"strings"
)

// ProtosInvites generates malformed INVITEs in the manner of the PROTOS
// c07-sip test suite (University of Oulu, 2002). Each starts from a valid
// trunk INVITE to the number 120 and replaces one element with a hostile
// value, or has missing, repeated or truncated parts or a bad SDP body. transport is "udp" or "tcp": a UDP datagram holds at most
// 65,507 bytes, so the variants that exceed it are generated for TCP only.
//
// Every variant is named "<group>/<element>/<payload>". The server under
// test is expected to answer each with a 4xx, with 503 when it cannot
// take the call (the hostile-input test holds its RTP ports), or not at
// all; never with a 2xx or another 5xx.
func ProtosInvites(transport string) []HostileMessage {
	tcp := strings.EqualFold(transport, "tcp")
	var out []HostileMessage
	add := func(group, name string, template string, expect Expectation, note string) {
		// Each variant gets its own Call-ID, so that no record or dialog of
		// one variant meets another.
		template = strings.ReplaceAll(template, protosCallID, fmt.Sprintf("protos-%d@127.0.0.1", len(out)))
		out = append(out, HostileMessage{
			Name:     group + "/" + name,
			Source:   "PROTOS-style " + group,
			Template: []byte(template),
			UDP:      expect,
			TCP:      expect,
			Note:     note,
		})
	}

	for _, field := range protosFields {
		for _, p := range protosPayloads(field.numeric, tcp) {
			add("overflow", field.name+"/"+p.name, field.build(protosBase(), p.value).String(), protosDefault, "one element replaced by a hostile value")
		}
	}
	for _, v := range protosStructural(tcp) {
		add(v.group, v.name, v.template, v.expect, v.note)
	}
	return out
}

// protosCallID is the base INVITE's Call-ID, replaced in each variant.
const protosCallID = "protos@127.0.0.1"

// protosDefault allows every outcome of a server that survives.
var protosDefault = MustExpect("4xx|503|drop")

// protosInvite is an INVITE being built: its request line parts, its
// header lines in order and its SDP lines.
type protosInvite struct {
	method, uri, version string
	headers              []protosHeader
	sdp                  []string
	// contentLength replaces the computed Content-Length when not "".
	contentLength string
}

type protosHeader struct{ name, value string }

// protosBase is the valid INVITE that every variant starts from: a caller
// on loopback dialling 120, with a PCMU offer whose RTP goes to the
// discard port.
func protosBase() *protosInvite {
	return &protosInvite{
		method:  "INVITE",
		uri:     "sip:120@{{target}}",
		version: "SIP/2.0",
		headers: []protosHeader{
			{"Via", "SIP/2.0/{{transport}} {{local}};branch=z9hG4bK-protos"},
			{"Max-Forwards", "70"},
			{"From", `"Caller" <sip:01012345678@{{local}}>;tag=protos-from`},
			{"To", "<sip:120@{{target}}>"},
			{"Call-ID", protosCallID},
			{"CSeq", "1 INVITE"},
			{"Contact", "<sip:01012345678@{{local}}>"},
			{"Expires", "120"},
			{"User-Agent", "protos-style"},
			{"Content-Type", "application/sdp"},
		},
		sdp: []string{
			"v=0",
			"o=- 1 1 IN IP4 127.0.0.1",
			"s=-",
			"c=IN IP4 127.0.0.1",
			"t=0 0",
			"m=audio 9 RTP/AVP 0 101",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:101 telephone-event/8000",
			"a=sendrecv",
		},
	}
}

// String writes the INVITE with CRLF line ends.
func (inv *protosInvite) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\n", inv.method, inv.uri, inv.version)
	for _, h := range inv.headers {
		b.WriteString(h.name + ": " + h.value + "\r\n")
	}
	length := contentLengthMarker
	if inv.contentLength != "" {
		length = inv.contentLength
	}
	b.WriteString("Content-Length: " + length + "\r\n\r\n")
	if len(inv.sdp) > 0 {
		b.WriteString(strings.Join(inv.sdp, "\r\n") + "\r\n")
	}
	return b.String()
}

// set replaces the value of the first header called name.
func (inv *protosInvite) set(name, value string) *protosInvite {
	for i := range inv.headers {
		if inv.headers[i].name == name {
			inv.headers[i].value = value
			return inv
		}
	}
	inv.headers = append(inv.headers, protosHeader{name, value})
	return inv
}

// setSDP replaces the SDP line that starts with prefix.
func (inv *protosInvite) setSDP(prefix, line string) *protosInvite {
	for i := range inv.sdp {
		if strings.HasPrefix(inv.sdp[i], prefix) {
			inv.sdp[i] = line
			return inv
		}
	}
	return inv
}

// protosField is one element of the INVITE that a payload replaces.
type protosField struct {
	name    string
	numeric bool
	build   func(inv *protosInvite, payload string) *protosInvite
}

func header(name, format string) func(*protosInvite, string) *protosInvite {
	return func(inv *protosInvite, p string) *protosInvite {
		return inv.set(name, strings.ReplaceAll(format, "$", p))
	}
}

func sdpLine(prefix, format string) func(*protosInvite, string) *protosInvite {
	return func(inv *protosInvite, p string) *protosInvite {
		return inv.setSDP(prefix, strings.ReplaceAll(format, "$", p))
	}
}

// protosFields are the elements PROTOS c07-sip overflowed one at a time,
// with the session headers this server reads added.
var protosFields = []protosField{
	{"request-method", false, func(inv *protosInvite, p string) *protosInvite { inv.method = p; return inv }},
	{"request-uri-user", false, func(inv *protosInvite, p string) *protosInvite { inv.uri = "sip:" + p + "@{{target}}"; return inv }},
	{"request-uri-host", false, func(inv *protosInvite, p string) *protosInvite { inv.uri = "sip:120@" + p; return inv }},
	{"sip-version", false, func(inv *protosInvite, p string) *protosInvite { inv.version = p; return inv }},
	{"via-host", false, header("Via", "SIP/2.0/{{transport}} $;branch=z9hG4bK-protos")},
	{"via-branch", false, header("Via", "SIP/2.0/{{transport}} {{local}};branch=$")},
	{"via-rport", true, header("Via", "SIP/2.0/{{transport}} {{local}};branch=z9hG4bK-protos;rport=$")},
	{"from-display", false, header("From", `"$" <sip:01012345678@{{local}}>;tag=protos-from`)},
	{"from-user", false, header("From", `<sip:$@{{local}}>;tag=protos-from`)},
	{"from-tag", false, header("From", `<sip:01012345678@{{local}}>;tag=$`)},
	{"to-user", false, header("To", "<sip:$@{{target}}>")},
	{"call-id", false, header("Call-ID", "$")},
	{"cseq-number", true, header("CSeq", "$ INVITE")},
	{"cseq-method", false, header("CSeq", "1 $")},
	{"contact", false, header("Contact", "<sip:$@{{local}}>")},
	{"max-forwards", true, header("Max-Forwards", "$")},
	{"expires", true, header("Expires", "$")},
	{"content-type", false, header("Content-Type", "$")},
	{"content-length", true, func(inv *protosInvite, p string) *protosInvite { inv.contentLength = p; return inv }},
	{"user-agent", false, header("User-Agent", "$")},
	{"subject", false, header("Subject", "$")},
	{"require", false, header("Require", "$")},
	{"supported", false, header("Supported", "$")},
	{"session-expires", true, header("Session-Expires", "$;refresher=uac")},
	{"min-se", true, header("Min-SE", "$")},
	{"p-asserted-identity", false, header("P-Asserted-Identity", "<sip:$@{{local}}>")},
	{"privacy", false, header("Privacy", "$")},
	{"route", false, header("Route", "<sip:$;lr>")},
	{"sdp-origin", false, sdpLine("o=", "o=$ 1 1 IN IP4 127.0.0.1")},
	{"sdp-connection", false, sdpLine("c=", "c=IN IP4 $")},
	{"sdp-media-port", true, sdpLine("m=", "m=audio $ RTP/AVP 0 101")},
	{"sdp-media-format", true, sdpLine("m=", "m=audio 9 RTP/AVP $")},
	{"sdp-rtpmap", false, sdpLine("a=rtpmap:0", "a=rtpmap:0 $/8000")},
}

// protosPayload is one hostile value.
type protosPayload struct{ name, value string }

// maxUDPValue keeps a UDP variant with one long value under the 65,507
// bytes of a UDP datagram.
const maxUDPValue = 64000

// protosPayloads returns the values put in one element: long strings,
// format strings, bytes that are not text, CRLF injection and delimiter
// runs for every element, and integer edge cases for numeric ones.
func protosPayloads(numeric, tcp bool) []protosPayload {
	payloads := []protosPayload{
		{"empty", ""},
		{"long-256", strings.Repeat("A", 256)},
		{"long-4096", strings.Repeat("A", 4096)},
		{"long-64000", strings.Repeat("A", maxUDPValue)},
		{"format-s", strings.Repeat("%s", 64)},
		{"format-n", strings.Repeat("%n", 64)},
		{"format-width", "%99999999999s%x%x%x"},
		{"nul", "a\x00b"},
		{"non-utf8", "\xff\xfe\xc3\x28\xc0\xaf"},
		{"crlf-injection", "x\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-injected"},
		{"lone-cr", "a\rb"},
		{"lone-lf", "a\nb"},
		{"delimiters", strings.Repeat(";,<>@:\"", 64)},
		{"space-run", strings.Repeat(" ", 1024)},
	}
	if tcp {
		payloads = append(payloads, protosPayload{"long-65536", strings.Repeat("A", 1<<16)})
	}
	if numeric {
		payloads = append(payloads,
			protosPayload{"int-negative", "-1"},
			protosPayload{"int-zero", "0"},
			protosPayload{"int-max32", "2147483647"},
			protosPayload{"int-over32", "4294967296"},
			protosPayload{"int-over64", "18446744073709551616"},
			protosPayload{"int-huge", strings.Repeat("9", 128)},
			protosPayload{"int-hex", "0x7fffffff"},
			protosPayload{"int-float", "1.5e300"},
		)
	}
	return payloads
}

// protosVariant is a whole-message variant.
type protosVariant struct {
	group, name, template string
	expect                Expectation
	note                  string
}

// protosStructural returns the variants that change the message's shape:
// missing and duplicated mandatory headers, many repeated headers, bad
// SDP bodies, Content-Length that disagrees with the body, and truncated
// messages.
func protosStructural(tcp bool) []protosVariant {
	var out []protosVariant
	add := func(group, name string, inv string, expect Expectation, note string) {
		out = append(out, protosVariant{group, name, inv, expect, note})
	}

	mandatory := []struct {
		name        string
		expect      Expectation
		note        string
		singleValue bool
	}{
		{"Via", MustExpect("drop|400"), "without Via there is no address to respond to (RFC 3261 8.1.1.7)", false},
		{"From", MustExpect("400"), "RFC 3261 8.1.1 requires From", true},
		{"To", MustExpect("400"), "RFC 3261 8.1.1 requires To", true},
		{"Call-ID", MustExpect("400"), "RFC 3261 8.1.1 requires Call-ID", true},
		{"CSeq", MustExpect("400"), "RFC 3261 8.1.1 requires CSeq", true},
		{"Max-Forwards", protosDefault, "a UAS may serve a request without Max-Forwards", true},
		{"Content-Type", protosDefault, "a body without Content-Type", false},
	}
	for _, m := range mandatory {
		inv := protosBase()
		inv.headers = withoutHeader(inv.headers, m.name)
		add("missing", m.name, inv.String(), m.expect, m.note)

		dup := protosBase()
		dup.headers = duplicateHeader(dup.headers, m.name)
		dupExpect, dupNote := protosDefault, "a header given twice"
		if m.singleValue {
			dupExpect, dupNote = MustExpect("400"), "a single-value header given twice with different values: 400 (RFC 4475 section 3.3.8)"
		}
		add("duplicated", m.name, dup.String(), dupExpect, dupNote)
	}

	repeats := []struct {
		name, line string
		count      int
	}{
		{"via-1000", "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-repeat", 1000},
		{"contact-1000", "Contact: <sip:repeat@127.0.0.1:9>", 1000},
		{"record-route-1000", "Record-Route: <sip:127.0.0.1:9;lr>", 1000},
		{"unknown-header-4000", "X-Repeat: a", 4000},
		{"session-expires-500", "Session-Expires: 90", 500},
	}
	for _, r := range repeats {
		inv := protosBase().String()
		head, body, _ := strings.Cut(inv, "\r\n\r\n")
		lines := strings.Repeat(r.line+"\r\n", r.count)
		add("repeated", r.name, head+"\r\n"+strings.TrimSuffix(lines, "\r\n")+"\r\n\r\n"+body, protosDefault, "one header repeated many times")
	}

	for _, b := range protosBodies() {
		inv := protosBase()
		inv.sdp = b.lines
		add("sdp", b.name, inv.String(), MustExpect("4xx|503|drop"), "an SDP offer the server cannot use or parse")
	}

	lengthExpect := MustExpect("400|drop")
	lengthNote := "RFC 3261 18.3: a UDP request whose body is shorter than Content-Length gets 400; over TCP the server waits for the rest"
	larger := protosBase()
	larger.contentLength = "5000"
	add("content-length", "larger-than-body", larger.String(), lengthExpect, lengthNote)
	smaller := protosBase()
	smaller.contentLength = "10"
	add("content-length", "smaller-than-body", smaller.String(), protosDefault, "the body is cut at Content-Length; over TCP the rest is a bad next message")
	absent := protosBase().String()
	absent = strings.Replace(absent, "Content-Length: "+contentLengthMarker+"\r\n", "", 1)
	add("content-length", "absent", absent, protosDefault, "RFC 3261 7.5: over TCP Content-Length is required, and the stream cannot be framed without it")

	full := protosBase().String()
	for _, cut := range []struct {
		name string
		at   int
	}{{"request-line", 20}, {"mid-header", 120}, {"before-blank-line", strings.Index(full, "\r\n\r\n")}, {"mid-body", len(full) - 40}} {
		add("truncated", cut.name, full[:cut.at], MustExpect("400|drop|4xx|503"), "a message cut short")
	}

	if tcp {
		huge := protosBase().set("X-Padding", strings.Repeat("P", 70000)).String()
		add("size", "over-64k", huge, MustExpect("drop|400|413|513"), "a message larger than sipgo's 65,535-byte limit")
	}
	return out
}

// protosBody is one SDP body variant.
type protosBody struct {
	name  string
	lines []string
}

func protosBodies() []protosBody {
	base := protosBase().sdp
	many := func(line string, n int) []string {
		out := append([]string(nil), base[:5]...)
		for range n {
			out = append(out, line)
		}
		return out
	}
	return []protosBody{
		{"garbage", []string{"this is not SDP", "\x00\x01\x02\x03"}},
		{"binary", []string{string([]byte{0xff, 0x00, 0xfe, 0x01, 0x80, 0x81})}},
		{"no-media", base[:5]},
		{"no-connection", []string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "m=audio 9 RTP/AVP 0"}},
		{"ipv6-connection", []string{"v=0", "o=- 1 1 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0", "m=audio 9 RTP/AVP 0"}},
		{"bad-address", []string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 999.999.999.999", "t=0 0", "m=audio 9 RTP/AVP 0"}},
		{"media-1000-lines", many("m=audio 9 RTP/AVP 0", 1000)},
		{"formats-2000", append(append([]string(nil), base[:5]...), "m=audio 9 RTP/AVP "+strings.TrimSpace(strings.Repeat("0 ", 2000)))},
		{"attributes-2000", many("a=rtpmap:0 PCMU/8000", 2000)},
		{"version-9", append([]string{"v=9"}, base[1:]...)},
		{"no-version", base[1:]},
		{"format-strings", []string{"v=0", "o=%s%s%s 1 1 IN IP4 %n%n", "s=%x", "c=IN IP4 %s", "t=0 0", "m=audio %d RTP/AVP %s"}},
	}
}

func withoutHeader(headers []protosHeader, name string) []protosHeader {
	var out []protosHeader
	for _, h := range headers {
		if h.name != name {
			out = append(out, h)
		}
	}
	return out
}

// duplicateHeader adds a second, different value after the first header
// called name.
func duplicateHeader(headers []protosHeader, name string) []protosHeader {
	var out []protosHeader
	for _, h := range headers {
		out = append(out, h)
		if h.name == name {
			second := h
			second.value = strings.ReplaceAll(h.value, "protos", "second")
			if second.value == h.value {
				second.value = h.value + "0"
			}
			out = append(out, second)
		}
	}
	return out
}
