package cjson

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// number reads a JSON number literal and writes its canonical form.
func (p *parser) number() error {
	start := p.pos
	neg := false
	if p.in[p.pos] == '-' {
		neg = true
		p.pos++
	}
	intStart := p.pos
	if p.pos >= len(p.in) || !isDigit(p.in[p.pos]) {
		return p.errorf("invalid number")
	}
	if p.in[p.pos] == '0' {
		p.pos++
	} else {
		for p.pos < len(p.in) && isDigit(p.in[p.pos]) {
			p.pos++
		}
	}
	intDigits := string(p.in[intStart:p.pos])
	fracDigits := ""
	exp := 0
	isFloatLiteral := false
	if p.pos < len(p.in) && p.in[p.pos] == '.' {
		isFloatLiteral = true
		p.pos++
		fs := p.pos
		for p.pos < len(p.in) && isDigit(p.in[p.pos]) {
			p.pos++
		}
		if p.pos == fs {
			return p.errorf("invalid number: no digits after '.'")
		}
		fracDigits = string(p.in[fs:p.pos])
	}
	if p.pos < len(p.in) && (p.in[p.pos] == 'e' || p.in[p.pos] == 'E') {
		isFloatLiteral = true
		p.pos++
		expNeg := false
		if p.pos < len(p.in) && (p.in[p.pos] == '+' || p.in[p.pos] == '-') {
			expNeg = p.in[p.pos] == '-'
			p.pos++
		}
		es := p.pos
		for p.pos < len(p.in) && isDigit(p.in[p.pos]) {
			p.pos++
		}
		if p.pos == es {
			return p.errorf("invalid number: no digits in exponent")
		}
		// Clamp absurd exponents; anything this large is rejected or rounds to 0 below.
		e, err := strconv.Atoi(string(p.in[es:p.pos]))
		if err != nil || e > 1<<20 {
			e = 1 << 20
		}
		if expNeg {
			e = -e
		}
		exp = e
	}
	literal := string(p.in[start:p.pos])

	if p.strict {
		if isFloatLiteral {
			return p.errorf("number %s is not an integer literal", literal)
		}
		n, err := strconv.ParseInt(literal, 10, 64)
		if err != nil || n > MaxSafeInteger || n < MinSafeInteger {
			return p.errorf("integer %s out of range", literal)
		}
		p.out = strconv.AppendInt(p.out, n, 10)
		return nil
	}

	// value = digits × 10^exp, with digits stripped of leading and trailing zeros.
	digits := strings.TrimLeft(intDigits+fracDigits, "0")
	exp -= len(fracDigits)
	if digits == "" {
		p.out = append(p.out, '0') // covers -0, 0.000, 0e5
		return nil
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	if exp >= 0 {
		if len(digits)+exp > maxIntegerDigits {
			p.pos = start
			return p.errorf("integer %s has more than %d digits", literal, maxIntegerDigits)
		}
		if neg {
			p.out = append(p.out, '-')
		}
		p.out = append(p.out, digits...)
		for i := 0; i < exp; i++ {
			p.out = append(p.out, '0')
		}
		return nil
	}
	// Non-integral: only pre-v6 events may carry these. Write the shortest float64 form
	// the way Python's repr does (fixed notation unless tiny), or an integer if the float
	// rounds to one, so that canonicalising the output again gives the same bytes.
	f, err := strconv.ParseFloat(literal, 64)
	if err != nil && !isUnderflow(f) {
		p.pos = start
		return p.errorf("number %s out of float64 range", literal)
	}
	if f == math.Trunc(f) {
		if f == 0 {
			p.out = append(p.out, '0')
			return nil
		}
		p.out = append(p.out, new(big.Float).SetFloat64(f).Text('f', 0)...)
		return nil
	}
	if math.Abs(f) >= 1e-4 {
		p.out = strconv.AppendFloat(p.out, f, 'f', -1, 64)
	} else {
		p.out = strconv.AppendFloat(p.out, f, 'e', -1, 64)
	}
	return nil
}

// isUnderflow: ParseFloat reports a range error with ±0 for values too small to represent;
// those are simply 0. Overflow gives ±Inf.
func isUnderflow(f float64) bool { return f == 0 }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
