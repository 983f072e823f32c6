package auth

import "testing"

func TestQualifyUserID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice", "@alice:example.org"},
		{"Alice", "@alice:example.org"},
		{"ALICE.B_C=D-E/F+G", "@alice.b_c=d-e/f+g:example.org"},
		{"@alice:example.org", "@alice:example.org"},
		{"@Alice:example.org", "@alice:example.org"},
		{"@Alice:Other.Example", "@alice:Other.Example"}, // the server name is kept
		{"@Alice", "@Alice"},                             // not a user ID: left for the caller to refuse
		{"\u212Aelvin", "@\u212Aelvin:example.org"},      // Kelvin sign: not turned into "k"
	}
	for _, tt := range tests {
		if got := QualifyUserID(tt.in, "example.org"); got != tt.want {
			t.Errorf("QualifyUserID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLowerLocalpart(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"bob", "bob"},
		{"Bob", "bob"},
		{"bOB", "bob"},
		{"b0B-Z", "b0b-z"},
		{"ÉLan", "Élan"}, // only ASCII letters change
	}
	for _, tt := range tests {
		if got := LowerLocalpart(tt.in); got != tt.want {
			t.Errorf("LowerLocalpart(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
