package federation

import "testing"

// FuzzParseXMatrix: the parser never panics, and whatever it accepts survives a trip through
// String and back unchanged.
func FuzzParseXMatrix(f *testing.F) {
	for _, s := range []string{
		`X-Matrix origin="o.example",destination="d.example",key="ed25519:k",sig="abc"`,
		`X-Matrix origin=o.example:8448,key=ed25519:k,sig=abc+/`,
		`x-matrix  SIG="a\"b" , key = "ed25519:k", origin="[::1]:80", foo="x,y"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		x, err := ParseXMatrix(header)
		if err != nil {
			return
		}
		again, err := ParseXMatrix(x.String())
		if err != nil || again != x {
			t.Fatalf("%q → %+v → %q → %+v, %v", header, x, x.String(), again, err)
		}
	})
}
