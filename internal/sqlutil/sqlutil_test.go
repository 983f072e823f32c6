package sqlutil

import "testing"

func TestWithBinaryParameters(t *testing.T) {
	cases := []struct{ in, want string }{
		{"postgres://u@h/db", "postgres://u@h/db?binary_parameters=yes"},
		{"postgresql://u@h/db?sslmode=disable", "postgresql://u@h/db?sslmode=disable&binary_parameters=yes"},
		{"host=h dbname=db", "host=h dbname=db binary_parameters=yes"},
		{"postgres://u@h/db?binary_parameters=no", "postgres://u@h/db?binary_parameters=no"},
	}
	for _, c := range cases {
		if got := withBinaryParameters(c.in); got != c.want {
			t.Errorf("withBinaryParameters(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
