package sqlutil

import (
	"strconv"
	"strings"
)

// Placeholders is the parameter list of an IN (…) clause for n arguments numbered from
// first: Placeholders(2, 3) = "$2, $3, $4" (both drivers take $n parameters).
func Placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
	}
	return b.String()
}

// ValueRows is the VALUES list of a multi-row INSERT of rows rows of cols parameters each,
// numbered from $1 row by row: ValueRows(2, 3) = "($1, $2, $3), ($4, $5, $6)".
func ValueRows(rows, cols int) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		b.WriteString(Placeholders(r*cols+1, cols))
		b.WriteByte(')')
	}
	return b.String()
}
