package cjson

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// parser reads JSON from in and appends its canonical form to out in one pass. Objects are
// written member by member and then reordered in place.
type parser struct {
	in     []byte
	pos    int
	strict bool
	out    []byte
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) error {
	if p.pos >= len(p.in) {
		return p.errorf("unexpected end of input")
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		p.out = appendString(p.out, s)
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(string(p.in[p.pos:min(len(p.in), p.pos+len(lit))]), lit) {
				p.pos += len(lit)
				p.out = append(p.out, lit...)
				return nil
			}
		}
		return p.errorf("invalid character %q", c)
	}
}

func compareMembers(a, b member) int { return strings.Compare(a.key, b.key) }

type member struct {
	key        string
	start, end int // the member's `"key":value` bytes in out
}

func (p *parser) object(depth int) error {
	if depth > MaxDepth {
		return p.errorf("nesting deeper than %d", MaxDepth)
	}
	p.pos++ // '{'
	p.out = append(p.out, '{')
	base := len(p.out)
	var members []member
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		p.out = append(p.out, '}')
		return nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return p.errorf("expected object key")
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return p.errorf("expected ':'")
		}
		p.pos++
		p.skipSpace()
		start := len(p.out)
		p.out = appendString(p.out, key)
		p.out = append(p.out, ':')
		if err := p.value(depth); err != nil {
			return err
		}
		members = append(members, member{key: key, start: start, end: len(p.out)})
		p.skipSpace()
		if p.pos >= len(p.in) {
			return p.errorf("unexpected end of input in object")
		}
		if p.in[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.in[p.pos] != '}' {
			return p.errorf("expected ',' or '}'")
		}
		p.pos++
		break
	}
	// Keys compare by codepoint; for valid UTF-8 that is byte order.
	if !slices.IsSortedFunc(members, compareMembers) {
		slices.SortStableFunc(members, compareMembers)
	}
	for i := 1; i < len(members); i++ {
		if members[i].key == members[i-1].key {
			return p.errorf("duplicate object key %q", members[i].key)
		}
	}
	// Members were written back to back without commas; lay them out in key order.
	region := slices.Clone(p.out[base:])
	p.out = p.out[:base]
	for i, m := range members {
		if i > 0 {
			p.out = append(p.out, ',')
		}
		p.out = append(p.out, region[m.start-base:m.end-base]...)
	}
	p.out = append(p.out, '}')
	return nil
}

func (p *parser) array(depth int) error {
	if depth > MaxDepth {
		return p.errorf("nesting deeper than %d", MaxDepth)
	}
	p.pos++ // '['
	p.out = append(p.out, '[')
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		p.out = append(p.out, ']')
		return nil
	}
	for first := true; ; first = false {
		if !first {
			p.out = append(p.out, ',')
		}
		p.skipSpace()
		if err := p.value(depth); err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.in) {
			return p.errorf("unexpected end of input in array")
		}
		if p.in[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.in[p.pos] != ']' {
			return p.errorf("expected ',' or ']'")
		}
		p.pos++
		p.out = append(p.out, ']')
		return nil
	}
}

// str reads a JSON string at p.pos and returns its decoded UTF-8 text.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	var b []byte
	start := p.pos
	for {
		if p.pos >= len(p.in) {
			return "", p.errorf("unterminated string")
		}
		c := p.in[p.pos]
		switch {
		case c == '"':
			b = append(b, p.in[start:p.pos]...)
			p.pos++
			return string(b), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c == '\\':
			b = append(b, p.in[start:p.pos]...)
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			b = utf8.AppendRune(b, r)
			start = p.pos
		case c < utf8.RuneSelf:
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.in[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.errorf("invalid UTF-8 in string")
			}
			p.pos += size
		}
	}
}

// escape reads one escape sequence starting at the backslash.
func (p *parser) escape() (rune, error) {
	p.pos++ // backslash
	if p.pos >= len(p.in) {
		return 0, p.errorf("unterminated escape")
	}
	c := p.in[p.pos]
	p.pos++
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if utf16.IsSurrogate(r) {
			if r >= 0xdc00 {
				return 0, p.errorf("lone low surrogate")
			}
			if p.pos+1 >= len(p.in) || p.in[p.pos] != '\\' || p.in[p.pos+1] != 'u' {
				return 0, p.errorf("lone high surrogate")
			}
			p.pos += 2
			r2, err := p.hex4()
			if err != nil {
				return 0, err
			}
			combined := utf16.DecodeRune(r, r2)
			if combined == utf8.RuneError {
				return 0, p.errorf("invalid surrogate pair")
			}
			return combined, nil
		}
		return r, nil
	}
	return 0, p.errorf("invalid escape '\\%c'", c)
}

func (p *parser) hex4() (rune, error) {
	if p.pos+4 > len(p.in) {
		return 0, p.errorf("short \\u escape")
	}
	var r rune
	for _, c := range p.in[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, p.errorf("bad hex digit in \\u escape")
		}
	}
	p.pos += 4
	return r, nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a canonical JSON string. s must be valid UTF-8 (invalid
// bytes are copied as they are, which Canonical would then reject).
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

// appendString writes s (valid UTF-8) as a canonical JSON string: only '"', '\\' and
// control characters are escaped, with the short forms where JSON has them and
// lower-case \u00XX otherwise.
func appendString(out []byte, s string) []byte {
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"':
			out = append(out, '\\', '"')
		case '\\':
			out = append(out, '\\', '\\')
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}
