package pushrules

import (
	"math/rand"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// TestGlobManyStarsLinear: a pattern of many `*`s against a long body that almost
// matches must not backtrack over every way of placing them (exponential: a user's own
// rule and one message would stall every count of the room).
func TestGlobManyStarsLinear(t *testing.T) {
	pattern := strings.Repeat("*a", 12) + "*b"
	body := strings.Repeat("a", 20000)
	done := make(chan [3]bool, 1)
	go func() {
		g := compileGlob(pattern)
		w := compileGlob(strings.Repeat("a*", 12) + "b")
		done <- [3]bool{g.matchWhole(body), g.matchWords(body), w.matchWords(body + " " + body)}
	}()
	select {
	case got := <-done:
		if got != [3]bool{} {
			t.Fatalf("matched %v, want no match", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("matching a many-star pattern took longer than 5s")
	}
	// And the same patterns still match where they should.
	g := compileGlob(pattern)
	if !g.matchWhole(body+"b") || !g.matchWords("x "+body+"b y") || g.matchWords(body+"bc") {
		t.Fatal("many-star pattern: wrong result")
	}
}

// refMatch is a plain backtracking matcher (exponential, for short inputs only) that
// TestGlobAgainstReference checks the segment matcher against.
func refMatch(toks []globTok, s string, i int, words bool) bool {
	for k, t := range toks {
		switch t.kind {
		case tokLit:
			if !strings.HasPrefix(s[i:], t.lit) {
				return false
			}
			i += len(t.lit)
		case tokOne, tokClass:
			if i >= len(s) {
				return false
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			if t.kind == tokClass && !t.matchesRune(r) {
				return false
			}
			i += n
		case tokMany:
			for j := len(s); j >= i; j-- {
				if j < len(s) && !utf8.RuneStart(s[j]) {
					continue
				}
				if refMatch(toks[k+1:], s, j, words) {
					return true
				}
			}
			return false
		}
	}
	if words {
		return boundaryAfter(s, i)
	}
	return i == len(s)
}

func TestGlobAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	patChars := []string{"a", "b", "*", "?", " ", "[ab]", "é"}
	strChars := []string{"a", "b", " ", "é", "_"}
	for n := 0; n < 20000; n++ {
		var p, s strings.Builder
		for k := rng.Intn(6); k >= 0; k-- {
			p.WriteString(patChars[rng.Intn(len(patChars))])
		}
		for k := rng.Intn(9); k >= 0; k-- {
			s.WriteString(strChars[rng.Intn(len(strChars))])
		}
		g := compileGlob(p.String())
		str := s.String()
		if want := refMatch(g.toks, str, 0, false); g.matchWhole(str) != want && !g.literal {
			t.Fatalf("%q whole %q = %v, want %v", p.String(), str, !want, want)
		}
		want := false
		for i := 0; i <= len(str); i++ {
			if utf8.RuneStart(str[min(i, len(str)-1)]) || i == len(str) {
				if boundaryBefore(str, i) && refMatch(g.toks, str, i, true) {
					want = true
					break
				}
			}
		}
		if !g.literal && g.matchWords(str) != want {
			t.Fatalf("%q words %q = %v, want %v", p.String(), str, !want, want)
		}
	}
}
