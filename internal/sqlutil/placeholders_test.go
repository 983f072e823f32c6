package sqlutil

import "testing"

func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		first, n int
		want     string
	}{
		{1, 0, ""},
		{1, 1, "$1"},
		{2, 3, "$2, $3, $4"},
		{9, 2, "$9, $10"},
	} {
		if got := Placeholders(tc.first, tc.n); got != tc.want {
			t.Errorf("Placeholders(%d, %d) = %q, want %q", tc.first, tc.n, got, tc.want)
		}
	}
}

func TestValueRows(t *testing.T) {
	for _, tc := range []struct {
		rows, cols int
		want       string
	}{
		{0, 3, ""},
		{1, 1, "($1)"},
		{2, 3, "($1, $2, $3), ($4, $5, $6)"},
		{3, 2, "($1, $2), ($3, $4), ($5, $6)"},
	} {
		if got := ValueRows(tc.rows, tc.cols); got != tc.want {
			t.Errorf("ValueRows(%d, %d) = %q, want %q", tc.rows, tc.cols, got, tc.want)
		}
	}
}
