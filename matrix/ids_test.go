package matrix

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseServerName(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"matrix.org", "matrix.org", 0, true},
		{"matrix.org:8888", "matrix.org", 8888, true},
		{"1.2.3.4", "1.2.3.4", 0, true},
		{"1.2.3.4:1234", "1.2.3.4", 1234, true},
		{"[1234:5678::abcd]", "[1234:5678::abcd]", 0, true},
		{"[1234:5678::abcd]:5678", "[1234:5678::abcd]", 5678, true},
		{"[::1]:8448", "[::1]", 8448, true},
		{"localhost", "localhost", 0, true},
		{"EXAMPLE.com", "EXAMPLE.com", 0, true},
		{"", "", 0, false},
		{"matrix.org:", "", 0, false},
		{"matrix.org:abc", "", 0, false},
		{"matrix.org:123456", "", 0, false},
		{"matrix.org:0", "", 0, false},
		{"matrix.org:70000", "", 0, false},
		{"matrix.org:80:80", "", 0, false},
		{"exa_mple.org", "", 0, false},
		{"exa mple.org", "", 0, false},
		{"1.2.3.256", "", 0, false},
		{"[1234:5678::abcd", "", 0, false},
		{"[1234:5678::abcd]x", "", 0, false},
		{"[1.2.3.4]", "", 0, false},
		{"[::g]", "", 0, false},
		{"[fe80::1%eth0]", "", 0, false},
		{"[]", "", 0, false},
		{strings.Repeat("a", 256), "", 0, false},
		{"ünicode.org", "", 0, false},
	}
	for _, tt := range tests {
		host, port, err := ParseServerName(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseServerName(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (host != tt.host || port != tt.port) {
			t.Errorf("ParseServerName(%q) = %q, %d; want %q, %d", tt.in, host, port, tt.host, tt.port)
		}
		if ValidServerName(tt.in) != tt.ok {
			t.Errorf("ValidServerName(%q) != %v", tt.in, tt.ok)
		}
	}
}

func TestParseUserID(t *testing.T) {
	tests := []struct {
		in, local, server string
		ok                bool
	}{
		{"@alice:example.org", "alice", "example.org", true},
		{"@alice:example.org:8448", "alice", "example.org:8448", true},
		{"@alice:[::1]:8448", "alice", "[::1]:8448", true},
		{"@Alice!*:example.org", "Alice!*", "example.org", true}, // historical
		{"@:example.org", "", "example.org", true},               // historical: empty localpart
		{"@日本:example.org", "日本", "example.org", true},           // historical: non-ASCII
		{"alice:example.org", "", "", false},
		{"@alice", "", "", false},
		{"@alice:", "", "", false},
		{"@alice:bad_server", "", "", false},
		{"@a\x00b:example.org", "", "", false},
		{"@a\xffb:example.org", "", "", false},
		{"@" + strings.Repeat("a", 243) + ":example.org", "", "", false}, // 256 bytes
		{"@" + strings.Repeat("a", 242) + ":example.org", strings.Repeat("a", 242), "example.org", true},
	}
	for _, tt := range tests {
		local, server, err := ParseUserID(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseUserID(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (local != tt.local || server != tt.server) {
			t.Errorf("ParseUserID(%q) = %q, %q", tt.in, local, server)
		}
	}
}

func TestValidLocalpart(t *testing.T) {
	tests := []struct {
		local string
		ok    bool
	}{
		{"alice", true},
		{"a.b_c=d-e/f+g9", true},
		{"", false},
		{"Alice", false},
		{"al ice", false},
		{"al:ice", false},
		{"ali*", false},
		{"日本", false},
		{strings.Repeat("a", 243), true},  // 1+243+1+len("matrix.org") = 255
		{strings.Repeat("a", 244), false}, // 1+244+1+10 = 256
	}
	for _, tt := range tests {
		err := ValidLocalpart(tt.local, "matrix.org")
		if (err == nil) != tt.ok {
			t.Errorf("ValidLocalpart(%q) err = %v, want ok=%v", tt.local, err, tt.ok)
		}
	}
}

func TestCompliantUserID(t *testing.T) {
	tests := map[string]bool{
		"@alice:example.org":   true,
		"@Alice!:example.org":  true,
		"@:example.org":        false,
		"@a b:example.org":     false,
		"@日本:example.org":      false,
		"not a user id at all": false,
	}
	for id, want := range tests {
		if got := CompliantUserID(id); got != want {
			t.Errorf("CompliantUserID(%q) = %v", id, got)
		}
	}
}

func TestParseRoomIDAndAlias(t *testing.T) {
	rooms := []struct {
		in, opaque, server string
		ok                 bool
	}{
		{"!abc:example.org", "abc", "example.org", true},
		{"!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ", "Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ", "", true},
		{"!:example.org", "", "", false},
		{"!", "", "", false},
		{"#abc:example.org", "", "", false},
		{"!abc:bad server", "", "", false},
	}
	for _, tt := range rooms {
		o, s, err := ParseRoomID(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (o != tt.opaque || s != tt.server)) {
			t.Errorf("ParseRoomID(%q) = %q, %q, %v", tt.in, o, s, err)
		}
	}
	aliases := []struct {
		in, local, server string
		ok                bool
	}{
		{"#room:example.org", "room", "example.org", true},
		{"#日本:example.org", "日本", "example.org", true},
		{"#room", "", "", false},
		{"!room:example.org", "", "", false},
		{"#room:exa mple", "", "", false},
	}
	for _, tt := range aliases {
		l, s, err := ParseRoomAlias(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (l != tt.local || s != tt.server)) {
			t.Errorf("ParseRoomAlias(%q) = %q, %q, %v", tt.in, l, s, err)
		}
	}
}

func TestValidEventIDForVersion(t *testing.T) {
	hashStd := "$" + strings.Repeat("a", 41) + "+/"
	hashURL := "$" + strings.Repeat("a", 41) + "-_"
	tests := []struct {
		id      string
		version RoomVersionID
		ok      bool
	}{
		{"$abc:example.org", "1", true},
		{"$abc", "1", false},
		{hashStd, "3", true},
		{hashURL, "3", false},
		{hashURL, "4", true},
		{hashStd, "4", false},
		{hashURL, "12", true},
		{"$short", "12", false},
		{"$abc:example.org", "12", false},
		{"abc", "12", false},
	}
	for _, tt := range tests {
		err := ValidEventIDForVersion(tt.id, MustRoomVersion(tt.version))
		if (err == nil) != tt.ok {
			t.Errorf("ValidEventIDForVersion(%q, %s) = %v, want ok=%v", tt.id, tt.version, err, tt.ok)
		}
	}
}

func TestServerNameOf(t *testing.T) {
	if s, ok := ServerNameOf("@a:b.org:80"); !ok || s != "b.org:80" {
		t.Errorf("ServerNameOf = %q, %v", s, ok)
	}
	if _, ok := ServerNameOf("$abc"); ok {
		t.Error("ServerNameOf($abc) should have no server")
	}
}

func TestValidRoomIDForVersion(t *testing.T) {
	hashID := "!" + strings.Repeat("a", 41) + "-_"
	tests := []struct {
		id      string
		version RoomVersionID
		ok      bool
	}{
		{"!abc:example.org", "1", true},
		{"!abc:example.org", "11", true},
		{"!abc", "11", false},
		{hashID, "11", false},
		{hashID, "12", true},
		{"!abc:example.org", "12", false},
		{"!" + strings.Repeat("a", 41) + "+/", "12", false},
		{"!short", "12", false},
		{"#abc:example.org", "1", false},
	}
	for _, tt := range tests {
		err := ValidRoomIDForVersion(tt.id, MustRoomVersion(tt.version))
		if (err == nil) != tt.ok {
			t.Errorf("ValidRoomIDForVersion(%q, %s) = %v, want ok=%v", tt.id, tt.version, err, tt.ok)
		}
	}
}

// FuzzParseIDs: no input panics, and whatever parses re-assembles to the same string.
func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"@a:b.c", "!r:[::1]:80", "$e", "#a:1.2.3.4:5", "@:x", "[::", "a:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if host, port, err := ParseServerName(s); err == nil {
			back := host
			if port != 0 {
				back += ":" + strconv.Itoa(port)
			}
			if back != s && !strings.HasPrefix(strings.TrimPrefix(s, host+":"), "0") {
				t.Fatalf("ParseServerName(%q) = %q, %d", s, host, port)
			}
		}
		if l, srv, err := ParseUserID(s); err == nil && "@"+l+":"+srv != s {
			t.Fatalf("ParseUserID(%q) = %q, %q", s, l, srv)
		}
		if l, srv, err := ParseRoomAlias(s); err == nil && "#"+l+":"+srv != s {
			t.Fatalf("ParseRoomAlias(%q) = %q, %q", s, l, srv)
		}
		if o, srv, err := ParseRoomID(s); err == nil && s != "!"+o && s != "!"+o+":"+srv {
			t.Fatalf("ParseRoomID(%q) = %q, %q", s, o, srv)
		}
		for _, v := range RoomVersions() {
			_ = ValidEventIDForVersion(s, v)
			_ = ValidRoomIDForVersion(s, v)
		}
		_ = ValidLocalpart(s, "example.org")
		_ = CompliantUserID(s)
	})
}
