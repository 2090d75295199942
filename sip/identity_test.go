package sip

import (
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

func TestCallerIdentity(t *testing.T) {
	tests := []struct {
		name     string
		headers  map[string]string
		from     string
		want     string
		withheld bool
	}{
		{name: "number from From", from: "01012345678", want: "01012345678"},
		{name: "asserted identity wins", from: "120", headers: map[string]string{
			"P-Asserted-Identity": `"Caller" <sip:01099998888@trunk.example>`,
		}, want: "01099998888"},
		{name: "asserted tel URI", from: "120", headers: map[string]string{
			"P-Asserted-Identity": "<tel:+821099998888;cpc=ordinary>",
		}, want: "+821099998888"},
		{name: "privacy id withholds the number", from: "01012345678", headers: map[string]string{
			"Privacy": "id",
		}, withheld: true},
		{name: "user part without digits", from: "sipp", withheld: true},
		{name: "anonymous From", from: "anonymous", withheld: true},
		{name: "empty From user", from: "", withheld: true},
		{name: "privacy none", from: "01012345678", headers: map[string]string{"Privacy": "none"}, want: "01012345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "120", Host: "127.0.0.1"})
			from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: tt.from, Host: "127.0.0.1"}, Params: sipmsg.NewParams()}
			req.AppendHeader(from)
			for name, value := range tt.headers {
				req.AppendHeader(sipmsg.NewHeader(name, value))
			}

			got := callerIdentity(req)
			if got.Number != tt.want {
				t.Errorf("number = %q, want %q", got.Number, tt.want)
			}
			if got.Withheld != tt.withheld {
				t.Errorf("withheld = %v, want %v", got.Withheld, tt.withheld)
			}
		})
	}
}
