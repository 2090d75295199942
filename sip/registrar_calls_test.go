package sip

import (
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

// featureInvite builds an INVITE from fromUser to a feature code, as a
// counselor's phone sends it.
func featureInvite(fromUser, authorization string) *sipmsg.Request {
	recipient := sipmsg.Uri{Scheme: "sip", User: "*21", Host: "127.0.0.1", Port: 5060}
	req := sipmsg.NewRequest(sipmsg.INVITE, recipient)
	from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: fromUser, Host: "127.0.0.1"}, Params: sipmsg.NewParams()}
	from.Params.Add("tag", "fromtag1")
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: recipient, Params: sipmsg.NewParams()})
	callID := sipmsg.CallIDHeader("feature-call-1")
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: 1, MethodName: sipmsg.INVITE})
	if authorization != "" {
		req.AppendHeader(sipmsg.NewHeader("Authorization", authorization))
	}
	req.SetSource("127.0.0.1:5070")
	return req
}

func newCallRegistrar(t *testing.T) *Registrar {
	t.Helper()
	r, err := NewRegistrar(RegistrarConfig{
		Realm:            testRealm,
		DigestAlgorithms: []string{algorithmMD5},
		Passwords:        map[string]string{"1001": "secret-1001", "1002": "secret-1002"},
	})
	if err != nil {
		t.Fatalf("NewRegistrar: %v", err)
	}
	return r
}

func TestAuthenticateCall(t *testing.T) {
	tests := []struct {
		name       string
		fromUser   string
		username   string
		password   string
		wantStatus int
	}{
		{name: "right password", fromUser: "1001", username: "1001", password: "secret-1001"},
		{name: "wrong password", fromUser: "1001", username: "1001", password: "guess", wantStatus: sipmsg.StatusUnauthorized},
		{name: "another counselor's name", fromUser: "1001", username: "1002", password: "secret-1002", wantStatus: sipmsg.StatusForbidden},
		{name: "unknown counselor", fromUser: "9999", username: "9999", password: "x", wantStatus: sipmsg.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newCallRegistrar(t)

			id, challenge := r.AuthenticateCall(featureInvite(tt.fromUser, ""))
			if challenge == nil || challenge.StatusCode != sipmsg.StatusUnauthorized || id != "" {
				t.Fatalf("INVITE without credentials = %q, %v, want a 401 challenge", id, challenge)
			}
			if tag, ok := challenge.To().Params.Get("tag"); !ok || tag == "" {
				t.Error("401 has no To tag")
			}

			authorization := answerChallenge(t, challenge, algorithmMD5, featureInvite(tt.fromUser, ""), tt.username, tt.password)
			id, reject := r.AuthenticateCall(featureInvite(tt.fromUser, authorization))

			if tt.wantStatus == 0 {
				if reject != nil || id != tt.fromUser {
					t.Errorf("AuthenticateCall = %q, %v, want %s accepted", id, reject, tt.fromUser)
				}
				return
			}
			if reject == nil || reject.StatusCode != tt.wantStatus {
				t.Errorf("AuthenticateCall = %q, %v, want status %d", id, reject, tt.wantStatus)
			}
		})
	}
}
