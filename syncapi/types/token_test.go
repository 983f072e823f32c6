package types

import (
	"reflect"
	"testing"
)

func TestParseStreamToken(t *testing.T) {
	tests := []struct {
		in      string
		want    StreamToken
		wantErr bool
	}{
		{in: "s0_0", want: StreamToken{}},
		{in: "s42_7", want: StreamToken{Room: 42, AccountData: 7}},
		{in: "s5", want: StreamToken{Room: 5}},
		{in: "s42_7_3", want: StreamToken{Room: 42, AccountData: 7, EDU: 3}},
		{in: "s5_6_3_8", want: StreamToken{Room: 5, AccountData: 6, EDU: 3, KeyChange: 8}},
		{in: "s5_6_3_8_d3_r9", want: StreamToken{Room: 5, AccountData: 6, EDU: 3, KeyChange: 8, Extra: []string{"d3", "r9"}}},
		{in: "s5_6_3_d3", wantErr: true},
		{in: "s1_2_x", wantErr: true},
		{in: "s1_2_-4", wantErr: true},
		{in: "", wantErr: true},
		{in: "s", wantErr: true},
		{in: "x1_2", wantErr: true},
		{in: "s-1_2", wantErr: true},
		{in: "sabc_2", wantErr: true},
		{in: "s1_x", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseStreamToken(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%q: err=%v wantErr=%v", tc.in, err, tc.wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%q: got %+v want %+v", tc.in, got, tc.want)
		}
		if err == nil && len(tc.want.Extra) > 0 && got.String() != tc.in {
			t.Fatalf("%q round-trips to %q", tc.in, got.String())
		}
	}
}

func TestStreamTokenString(t *testing.T) {
	if s := (StreamToken{Room: 3, AccountData: 9}).String(); s != "s3_9_0_0" {
		t.Fatalf("got %q", s)
	}
	if s := (StreamToken{Room: 3, AccountData: 9, EDU: 4, KeyChange: 2}).String(); s != "s3_9_4_2" {
		t.Fatalf("got %q", s)
	}
	a, b := StreamToken{Room: 3, KeyChange: 2}, StreamToken{Room: 3, KeyChange: 1}
	if !a.IsAfter(b) || b.IsAfter(a) || a.SamePositions(b) {
		t.Fatalf("key change part not compared: %v %v", a, b)
	}
}

func TestParsePaginationToken(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "t0", want: 0},
		{in: "t17", want: 17},
		{in: "s17_3", want: 17},
		{in: "t", wantErr: true},
		{in: "t-3", want: -3}, // backfilled history
		{in: "t-0", wantErr: true},
		{in: "t--3", wantErr: true},
		{in: "t-", wantErr: true},
		{in: "q1", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParsePaginationToken(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%q: err=%v wantErr=%v", tc.in, err, tc.wantErr)
		}
		if err == nil && got.Pos != tc.want {
			t.Fatalf("%q: got %d want %d", tc.in, got.Pos, tc.want)
		}
		if err == nil && tc.in[0] == 't' && got.String() != tc.in {
			t.Fatalf("%q round-trips to %q", tc.in, got.String())
		}
	}
}
