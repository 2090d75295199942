package sip

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

// registerHeaders are the identity headers of a hand-written REGISTER.
type registerHeaders struct {
	to, from string
	// contact is the Contact URI; empty means sip:<to user>@192.0.2.50.
	contact string
}

// rawRegisterCalls numbers the Call-IDs of rawRegister, so that no two
// REGISTERs share one.
var rawRegisterCalls atomic.Int64

// rawRegister parses a REGISTER with the given headers, as if it came from
// source, with an Authorization header when authorization is not empty.
func rawRegister(t *testing.T, h registerHeaders, source string, cseq int, authorization string) *sipmsg.Request {
	t.Helper()
	contact := h.contact
	if contact == "" {
		contact = "sip:phone@192.0.2.50:5062"
	}
	var b strings.Builder
	b.WriteString("REGISTER sip:" + testRealm + " SIP/2.0\r\n")
	b.WriteString("Via: SIP/2.0/UDP 192.0.2.50:5062;branch=z9hG4bK" + fmt.Sprint(cseq) + "reg\r\n")
	b.WriteString("From: <" + h.from + ">;tag=identity1\r\n")
	b.WriteString("To: <" + h.to + ">\r\n")
	fmt.Fprintf(&b, "Call-ID: identity-%d\r\n", rawRegisterCalls.Add(1))
	fmt.Fprintf(&b, "CSeq: %d REGISTER\r\n", cseq)
	b.WriteString("Contact: <" + contact + ">\r\n")
	b.WriteString("Expires: 600\r\n")
	if authorization != "" {
		b.WriteString("Authorization: " + authorization + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")

	msg, err := sipmsg.ParseMessage([]byte(b.String()))
	if err != nil {
		t.Fatalf("parsing the REGISTER: %v\n%s", err, b.String())
	}
	req, ok := msg.(*sipmsg.Request)
	if !ok {
		t.Fatalf("parsed %T, want a request", msg)
	}
	req.SetSource(source)
	req.SetTransport("UDP")
	return req
}

// registerAs sends h, answers a 401 with the digest of username and
// password, and returns the final response.
func registerAs(t *testing.T, r *Registrar, h registerHeaders, username, password string) *sipmsg.Response {
	t.Helper()
	req := rawRegister(t, h, sourceA, 1, "")
	res := r.processRegister(req)
	if res.StatusCode != sipmsg.StatusUnauthorized {
		return res
	}
	authorization := answerChallenge(t, res, algorithmMD5, req, username, password)
	return r.processRegister(rawRegister(t, h, sourceA, 2, authorization))
}

// A counselor authenticated as 1001 can never bind 1002, whichever of To,
// From and the digest username names 1002, however it is spelled.
func TestRegisterCannotBindAnotherUser(t *testing.T) {
	const realmHost = "@" + testRealm
	tests := []struct {
		name string
		h    registerHeaders
		// username and password compute the digest.
		username, password string
		want               int
	}{
		{name: "To is the other user", h: registerHeaders{to: "sip:1002" + realmHost, from: "sip:1001" + realmHost}, username: "1001", password: "secret-1001", want: 403},
		{name: "From is the other user", h: registerHeaders{to: "sip:1001" + realmHost, from: "sip:1002" + realmHost}, username: "1001", password: "secret-1001", want: 403},
		{name: "To and From are the other user", h: registerHeaders{to: "sip:1002" + realmHost, from: "sip:1002" + realmHost}, username: "1001", password: "secret-1001", want: 403},
		{name: "digest username is the other user", h: registerHeaders{to: "sip:1001" + realmHost, from: "sip:1001" + realmHost}, username: "1002", password: "secret-1001", want: 403},
		{name: "all name the other user, own password", h: registerHeaders{to: "sip:1002" + realmHost, from: "sip:1002" + realmHost}, username: "1002", password: "secret-1001", want: 401},
		{name: "To escaped", h: registerHeaders{to: "sip:%31002" + realmHost, from: "sip:%31002" + realmHost}, username: "1001", password: "secret-1001", want: 403},
		{name: "To escaped, digest username escaped", h: registerHeaders{to: "sip:%31002" + realmHost, from: "sip:%31002" + realmHost}, username: "%31002", password: "secret-1001", want: 403},
		{name: "To of the other user over sips", h: registerHeaders{to: "sips:1002" + realmHost, from: "sips:1002" + realmHost}, username: "1001", password: "secret-1001", want: 403},
		{name: "From over sips of the other user", h: registerHeaders{to: "sip:1001" + realmHost, from: "sips:1002" + realmHost}, username: "1001", password: "secret-1001", want: 403},
		{name: "To with a user parameter", h: registerHeaders{to: "sip:1002;user=phone" + realmHost, from: "sip:1002;user=phone" + realmHost}, username: "1001", password: "secret-1001", want: 403},
		{name: "To with a space-padded user", h: registerHeaders{to: "sip:1001%20" + realmHost, from: "sip:1001%20" + realmHost}, username: "1001", password: "secret-1001", want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newLockoutEnv(t)
			own := registerHeaders{to: "sip:1002" + realmHost, from: "sip:1002" + realmHost, contact: "sip:1002@192.0.2.99:5062"}
			if res := registerAs(t, env.registrar, own, "1002", "secret-1002"); res.StatusCode != sipmsg.StatusOK {
				t.Fatalf("1002 registering itself: status = %d, want 200", res.StatusCode)
			}
			before := fmt.Sprint(env.registrar.Bindings())

			res := registerAs(t, env.registrar, tt.h, tt.username, tt.password)

			if res.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.want)
			}
			if after := fmt.Sprint(env.registrar.Bindings()); after != before {
				t.Errorf("bindings changed:\nbefore %s\nafter  %s", before, after)
			}
			binding, ok := env.registrar.Lookup("1002")
			if !ok || binding.Contact.Host != "192.0.2.99" {
				t.Errorf("1002's binding = %v, %v, want its own contact on 192.0.2.99", binding, ok)
			}
		})
	}
}

// The checks above do not stop a counselor registering their own id, over
// sip or sips, with a Contact whose user part names someone else.
func TestRegisterOwnUserVariants(t *testing.T) {
	const realmHost = "@" + testRealm
	tests := []struct {
		name string
		h    registerHeaders
	}{
		{"sip", registerHeaders{to: "sip:1001" + realmHost, from: "sip:1001" + realmHost}},
		{"sips To and From", registerHeaders{to: "sips:1001" + realmHost, from: "sips:1001" + realmHost}},
		{"sips From only", registerHeaders{to: "sip:1001" + realmHost, from: "sips:1001" + realmHost}},
		{"Contact names 1002", registerHeaders{to: "sip:1001" + realmHost, from: "sip:1001" + realmHost, contact: "sip:1002@192.0.2.51:5062"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newLockoutEnv(t)
			res := registerAs(t, env.registrar, tt.h, "1001", "secret-1001")
			if res.StatusCode != sipmsg.StatusOK {
				t.Fatalf("status = %d, want 200", res.StatusCode)
			}
			if _, ok := env.registrar.Lookup("1001"); !ok {
				t.Error("1001 has no binding")
			}
			if _, ok := env.registrar.Lookup("1002"); ok {
				t.Error("1002 got a binding from 1001's REGISTER")
			}
		})
	}
}
