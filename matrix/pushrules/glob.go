package pushrules

import (
	"strings"
	"unicode/utf8"
)

// Glob-style patterns (the spec's appendix "Glob-style matching": `*` any run of
// characters, `?` exactly one) as event_match conditions and content rules use them,
// plus the character classes `[abc]`, `[a-z]` and `[!a]` that Synapse also accepts. The
// match is case-insensitive: the pattern is lower-cased when compiled and matched against
// values lower-cased once per event (Event).

type tokKind uint8

const (
	tokLit   tokKind = iota // a literal run
	tokOne                  // ?
	tokMany                 // *
	tokClass                // [...]
)

type globTok struct {
	kind   tokKind
	lit    string
	ranges []runeRange // tokClass
	negate bool        // tokClass: [!...]
}

type runeRange struct{ lo, hi rune }

// glob is a compiled pattern.
type glob struct {
	toks []globTok
	// literal is set when the pattern has no wildcard: a plain (lower-cased) string.
	literal bool
	lit     string
}

// compileGlob compiles pattern (lower-cased first).
func compileGlob(pattern string) glob {
	p := strings.ToLower(pattern)
	var toks []globTok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, globTok{kind: tokLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '*':
			flush()
			if len(toks) == 0 || toks[len(toks)-1].kind != tokMany {
				toks = append(toks, globTok{kind: tokMany})
			}
			i++
		case '?':
			flush()
			toks = append(toks, globTok{kind: tokOne})
			i++
		case '[':
			if t, n, ok := parseClass(p[i:]); ok {
				flush()
				toks = append(toks, t)
				i += n
				continue
			}
			lit.WriteByte(c) // an unclosed [ is a literal
			i++
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	g := glob{toks: toks}
	if len(toks) == 0 {
		g.literal = true
	} else if len(toks) == 1 && toks[0].kind == tokLit {
		g.literal, g.lit = true, toks[0].lit
	}
	return g
}

// parseClass parses a [...] class at the start of p: the token, the bytes it took, and
// whether it is a class at all (closed by ]).
func parseClass(p string) (globTok, int, bool) {
	t := globTok{kind: tokClass}
	i := 1
	if i < len(p) && p[i] == '!' {
		t.negate = true
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return t, i + 1, true
		}
		first = false
		lo, n := utf8.DecodeRuneInString(p[i:])
		i += n
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi, n = utf8.DecodeRuneInString(p[i+1:])
			i += 1 + n
		}
		t.ranges = append(t.ranges, runeRange{lo, hi})
	}
	return globTok{}, 0, false
}

func (t *globTok) matchesRune(r rune) bool {
	in := false
	for _, rg := range t.ranges {
		if r >= rg.lo && r <= rg.hi {
			in = true
			break
		}
	}
	return in != t.negate
}

// isWordChar: the spec's word characters, [A-Za-z0-9_]; anything else is a boundary.
func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// atBoundary reports whether position i of s is a word boundary: the start or end of s,
// or next to a character that is not a word character (so "@room" is found in "x@room",
// as Synapse finds it, while "alice" is not found in "malice").
func atBoundary(s string, i int) bool {
	return i == 0 || i == len(s) || !isWordChar(s[i-1]) || !isWordChar(s[i])
}

func boundaryBefore(s string, i int) bool { return atBoundary(s, i) }
func boundaryAfter(s string, j int) bool  { return atBoundary(s, j) }

// matchWhole reports whether the pattern matches all of s (s lower-cased).
func (g *glob) matchWhole(s string) bool {
	if g.literal {
		return s == g.lit
	}
	return matchToks(g.toks, s, 0, false)
}

// matchWords reports whether the pattern matches a substring of s that starts and ends at
// a word boundary (the spec's rule for content.body; s lower-cased).
func (g *glob) matchWords(s string) bool {
	if g.literal {
		return containsWord(s, g.lit)
	}
	for i := 0; i <= len(s); i++ {
		if boundaryBefore(s, i) && matchToks(g.toks, s, i, true) {
			return true
		}
		if i < len(s) && s[i] >= utf8.RuneSelf {
			// Step over the rest of a multi-byte rune: only rune starts are start points.
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n - 1
		}
	}
	return false
}

// containsWord reports whether word occurs in s starting and ending at word boundaries.
// An empty word never matches.
func containsWord(s, word string) bool {
	if word == "" {
		return false
	}
	for off := 0; off+len(word) <= len(s); {
		i := strings.Index(s[off:], word)
		if i < 0 {
			return false
		}
		i += off
		if boundaryBefore(s, i) && boundaryAfter(s, i+len(word)) {
			return true
		}
		off = i + 1
	}
	return false
}

// matchToks matches toks against s from byte i: to the end of s, or (words) to any
// position that is a word boundary.
func matchToks(toks []globTok, s string, i int, words bool) bool {
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
			rest := toks[k+1:]
			for j := len(s); j >= i; j-- {
				if j < len(s) && j > i && !utf8.RuneStart(s[j]) {
					continue
				}
				if matchToks(rest, s, j, words) {
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
