package eventlog

import "testing"

func TestParseOffsetReset(t *testing.T) {
	tests := []struct {
		in      string
		want    OffsetReset
		wantErr bool
	}{
		{"", ResetEarliest, false},
		{"earliest", ResetEarliest, false},
		{"latest", ResetLatest, false},
		{"oldest", "", true},
	}
	for _, tc := range tests {
		got, err := ParseOffsetReset(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseOffsetReset(%q) = %q, %v; want %q, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
