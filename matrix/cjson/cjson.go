// Package cjson produces Matrix canonical JSON (spec appendix "Canonical JSON"): object
// keys sorted by Unicode codepoint, no insignificant whitespace, UTF-8 text with only the
// escapes the grammar requires, and numbers as integers without exponent or fraction.
//
// It works on raw JSON bytes and never round-trips integers through float64, so big
// integers in old (pre-v6) events keep their exact value. Content hashes, reference
// hashes and signatures (matrix/signing, matrix/event) are all computed over its output.
package cjson

import (
	"encoding/json"
	"fmt"
)

// MaxDepth is the deepest nesting of objects and arrays accepted.
const MaxDepth = 256

// maxIntegerDigits bounds the digits an integer may expand to (e.g. "1e100000" would
// otherwise allocate without limit).
const maxIntegerDigits = 1024

// Range of integers allowed by strict canonical JSON (room versions 6+).
const (
	// MaxSafeInteger is 2^53-1.
	MaxSafeInteger = 1<<53 - 1
	// MinSafeInteger is -(2^53)+1.
	MinSafeInteger = -(1<<53 - 1)
)

// SyntaxError reports where and why input was rejected.
type SyntaxError struct {
	Offset int
	Msg    string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("canonical json: %s at offset %d", e.Msg, e.Offset)
}

// Canonical returns the canonical encoding of one JSON value.
//
// With strict false (room versions 1–5 and generic signing), any valid JSON is accepted:
// integral numbers are written as exact integers ("-0" → "0", "1e10" → "10000000000") and
// non-integral numbers as the shortest float64 form. With strict true (the rule of room
// versions 6+), numbers must be integer literals in [-(2^53)+1, 2^53-1]; fractions and
// exponents are rejected.
//
// In both modes input must be valid UTF-8 without lone surrogate escapes, and objects
// must not repeat a key.
func Canonical(input []byte, strict bool) ([]byte, error) {
	p := parser{in: input, strict: strict, out: make([]byte, 0, len(input))}
	p.skipSpace()
	if err := p.value(0); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return nil, p.errorf("unexpected data after top-level value")
	}
	return p.out, nil
}

// Marshal encodes v with encoding/json and returns its canonical form.
func Marshal(v any, strict bool) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonical(raw, strict)
}

// IsCanonical reports whether input is already byte-for-byte canonical.
func IsCanonical(input []byte, strict bool) bool {
	out, err := Canonical(input, strict)
	return err == nil && string(out) == string(input)
}
