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
	// segs are toks split at the `*`s: segs[0] is anchored at the start of the match,
	// the last at its end, those between float. Matching them one after the other, each
	// middle one at its leftmost place, is linear per segment: backtracking over every
	// `*` (a pattern like `*a*a*a*a*b` on a long body) would be exponential.
	segs [][]globTok
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
	g := glob{toks: toks, segs: [][]globTok{nil}}
	for _, t := range toks {
		if t.kind == tokMany {
			g.segs = append(g.segs, nil)
		} else {
			g.segs[len(g.segs)-1] = append(g.segs[len(g.segs)-1], t)
		}
	}
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
	return g.matchAt(s, 0, false)
}

// matchWords reports whether the pattern matches a substring of s that starts and ends at
// a word boundary (the spec's rule for content.body; s lower-cased).
func (g *glob) matchWords(s string) bool {
	if g.literal {
		return containsWord(s, g.lit)
	}
	for i := 0; i <= len(s); i++ {
		if boundaryBefore(s, i) {
			if len(g.segs) > 1 {
				// With a `*`, the first start where segs[0] matches decides: a later start
				// ends segs[0] later and so leaves the rest of the pattern less to match.
				if _, ok := matchSeg(g.segs[0], s, i); ok {
					return g.matchAt(s, i, true)
				}
			} else if g.matchAt(s, i, true) {
				return true
			}
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

// matchSeg matches seg (no `*`) against s at byte i: the end of the match.
func matchSeg(seg []globTok, s string, i int) (int, bool) {
	for k := range seg {
		t := &seg[k]
		switch t.kind {
		case tokLit:
			if !strings.HasPrefix(s[i:], t.lit) {
				return 0, false
			}
			i += len(t.lit)
		default: // tokOne, tokClass
			if i >= len(s) {
				return 0, false
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			if t.kind == tokClass && !t.matchesRune(r) {
				return 0, false
			}
			i += n
		}
	}
	return i, true
}

// matchAt matches the pattern against s from byte i: to the end of s, or (words) to any
// position that is a word boundary.
func (g *glob) matchAt(s string, i int, words bool) bool {
	accept := func(end int) bool {
		if words {
			return boundaryAfter(s, end)
		}
		return end == len(s)
	}
	if len(g.segs) == 0 {
		return false // the zero glob
	}
	cur, ok := matchSeg(g.segs[0], s, i)
	if !ok {
		return false
	}
	if len(g.segs) == 1 {
		return accept(cur)
	}
	last := len(g.segs) - 1
	for _, seg := range g.segs[1:last] {
		found := false
		for j := cur; j <= len(s); j++ {
			if j < len(s) && !utf8.RuneStart(s[j]) {
				continue
			}
			if end, ok := matchSeg(seg, s, j); ok {
				cur, found = end, true
				break
			}
		}
		if !found {
			return false
		}
	}
	for j := cur; j <= len(s); j++ {
		if j < len(s) && !utf8.RuneStart(s[j]) {
			continue
		}
		if end, ok := matchSeg(g.segs[last], s, j); ok && accept(end) {
			return true
		}
	}
	return false
}
