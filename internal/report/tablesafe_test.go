package report

import "testing"

func TestTableSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mail.example.org", "mail.example.org"},
		{"a\tb\nc\x1b[31md", "a b c [31md"},
		{"csi\u009b31m", "csi 31m"},
		{"del\x7f", "del "},
		{"evil\u202egnp.exe", "evil gnp.exe"},
		{"iso\u2066late\u2069", "iso late "},
		{"mark\u200e\u200f\u061c", "mark   "},
		{"bad\xffutf8", "bad\ufffdutf8"},
		{"Grüße 東京", "Grüße 東京"},
	}
	for _, tt := range tests {
		if got := TableSafe(tt.in); got != tt.want {
			t.Errorf("TableSafe(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
