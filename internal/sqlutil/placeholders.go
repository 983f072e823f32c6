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
