package httputil

import "encoding/json"

// duplicateKey returns the first key that appears twice in one object of raw (compared
// after unescaping, so "a" and "\u0061" are the same key). raw must be valid JSON
// (json.Valid): the scan does no syntax checks of its own, and json.Valid's nesting limit
// bounds its recursion.
func duplicateKey(raw []byte) (string, bool) {
	s := dupScanner{b: raw}
	return s.value()
}

// dupScanner walks valid JSON, remembering the keys of each object it is in.
type dupScanner struct {
	b []byte
	i int
}

// smallObject is how many keys an object may have before its keys go into a map rather
// than a slice searched from the start.
const smallObject = 16

func (s *dupScanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value starting at (or after whitespace before) s.i.
func (s *dupScanner) value() (string, bool) {
	s.skipSpace()
	switch s.b[s.i] {
	case '{':
		return s.object()
	case '[':
		return s.array()
	case '"':
		s.str()
	default: // a number, true, false or null
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return "", false
			}
			s.i++
		}
	}
	return "", false
}

func (s *dupScanner) object() (string, bool) {
	s.i++ // '{'
	var list []string
	var set map[string]struct{}
	for {
		s.skipSpace()
		if s.b[s.i] == '}' {
			s.i++
			return "", false
		}
		key := s.str()
		if set != nil {
			if _, dup := set[key]; dup {
				return key, true
			}
			set[key] = struct{}{}
		} else {
			for _, k := range list {
				if k == key {
					return key, true
				}
			}
			list = append(list, key)
			if len(list) > smallObject {
				set = make(map[string]struct{}, 2*len(list))
				for _, k := range list {
					set[k] = struct{}{}
				}
			}
		}
		s.skipSpace()
		s.i++ // ':'
		if k, dup := s.value(); dup {
			return k, true
		}
		s.skipSpace()
		if s.b[s.i] == ',' {
			s.i++
		}
	}
}

func (s *dupScanner) array() (string, bool) {
	s.i++ // '['
	for {
		s.skipSpace()
		if s.b[s.i] == ']' {
			s.i++
			return "", false
		}
		if k, dup := s.value(); dup {
			return k, true
		}
		s.skipSpace()
		if s.b[s.i] == ',' {
			s.i++
		}
	}
}

// str scans the string literal at s.i and returns its unescaped value.
func (s *dupScanner) str() string {
	start := s.i
	s.i++ // opening quote
	escaped := false
	for s.b[s.i] != '"' {
		if s.b[s.i] == '\\' {
			escaped = true
			s.i++ // the escaped character (or the 'u' of \uXXXX) is never a quote
		}
		s.i++
	}
	s.i++ // closing quote
	lit := s.b[start:s.i]
	if !escaped {
		return string(lit[1 : len(lit)-1])
	}
	var out string
	_ = json.Unmarshal(lit, &out) // valid JSON, so this cannot fail
	return out
}
