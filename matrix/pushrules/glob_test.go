package pushrules

import (
	"strings"
	"testing"
)

func TestGlobWhole(t *testing.T) {
	for _, c := range []struct {
		pattern, value string
		want           bool
	}{
		{"m.notice", "m.notice", true},
		{"m.notice", "m.notices", false},
		{"M.Notice", "m.notice", true},
		{"m.*", "m.room.message", true},
		{"m.*", "n.room", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "aéc", true}, // ? is one character, not one byte
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"*a*b*", "xxaxxbxx", true},
		{"[abc]x", "bx", true},
		{"[abc]x", "dx", false},
		{"[a-c]x", "cx", true},
		{"[!a-c]x", "cx", false},
		{"[!a-c]x", "dx", true},
		{"[abc", "[abc", true}, // an unclosed class is literal
		{"!room:*", "!room:example.org", true},
	} {
		g := compileGlob(c.pattern)
		if got := g.matchWhole(strings.ToLower(c.value)); got != c.want {
			t.Errorf("%q whole %q = %v, want %v", c.pattern, c.value, got, c.want)
		}
	}
}

func TestGlobWords(t *testing.T) {
	for _, c := range []struct {
		pattern, body string
		want          bool
	}{
		{"alice", "hello alice!", true},
		{"alice", "Hello ALICE", true},
		{"alice", "alice", true},
		{"alice", "malice", false},
		{"alice", "alice_", false}, // _ is a word character
		{"alice", "alice2 alice", true},
		{"alice", "alice's", true},
		{"@room", "hey @room look", true},
		{"@room", "hey @roomy", false},
		{"@room", "x@room", true}, // the @ itself is not a word character
		{"room", "x@room", true},
		{"@room", "@room_x", false},
		{"ali*", "hi alison", true},
		{"ali*", "hi malison", false},
		{"a?ice", "an alice", true},
		{"a?ice", "an aliceb", false},
		{"café", "le café!", true},
		{"", "anything", false},
		{"*", "", true},
	} {
		g := compileGlob(c.pattern)
		if got := g.matchWords(strings.ToLower(c.body)); got != c.want {
			t.Errorf("%q in %q = %v, want %v", c.pattern, c.body, got, c.want)
		}
	}
}

func TestCanonicalKey(t *testing.T) {
	for in, want := range map[string]string{
		"content.body":                   "content.body",
		`content.m\.mentions.user_ids`:   `content.m\.mentions.user_ids`,
		`content.a\\b`:                   `content.a\\b`,
		`content.a\xb`:                   `content.a\\xb`, // a lone backslash is literal
		`content.m\.relates_to.rel_type`: `content.m\.relates_to.rel_type`,
	} {
		if got := canonicalKey(in); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", in, got, want)
		}
	}
}
