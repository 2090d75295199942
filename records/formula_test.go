package records

import "testing"

func TestEscapeFormula(t *testing.T) {
	tests := []struct {
		name, cell, want string
	}{
		{"equals", "=1+1", "'=1+1"},
		{"plus", "+8210", "'+8210"},
		{"minus", "-2", "'-2"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"leading spaces", "  =HYPERLINK(\"x\")", "'  =HYPERLINK(\"x\")"},
		{"leading newline", "\n+1", "'\n+1"},
		{"ideographic space", "\u3000=1", "'\u3000=1"},
		{"full-width equals", "\uff1d1+1", "'\uff1d1+1"},
		{"full-width at", "\uff20A1", "'\uff20A1"},
		{"plain text", "visited", "visited"},
		{"korean", "방문 완료", "방문 완료"},
		{"equals inside", "a=b", "a=b"},
		{"empty", "", ""},
		{"spaces only", "   ", "   "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := escapeFormula(tt.cell); got != tt.want {
				t.Errorf("escapeFormula(%q) = %q, want %q", tt.cell, got, tt.want)
			}
		})
	}
}
