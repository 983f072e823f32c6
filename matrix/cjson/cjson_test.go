package cjson

import (
	"encoding/json"
	"strings"
	"testing"
)

// The examples of the spec appendix "Canonical JSON", byte for byte.
func TestSpecExamples(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{"{\n    \"one\": 1,\n    \"two\": \"Two\"\n}", `{"one":1,"two":"Two"}`},
		{"{\n    \"b\": \"2\",\n    \"a\": \"1\"\n}", `{"a":"1","b":"2"}`},
		{`{"b":"2","a":"1"}`, `{"a":"1","b":"2"}`},
		{`{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`, `{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}`},
		{"{\n    \"a\": \"日本語\"\n}", `{"a":"日本語"}`},
		{"{\n    \"本\": 2,\n    \"日\": 1\n}", `{"日":1,"本":2}`},
		{"{\n    \"a\": \"\\u65E5\"\n}", `{"a":"日"}`},
		{"{\n    \"a\": null\n}", `{"a":null}`},
		{"{\n    \"a\": -0,\n    \"b\": 1e10\n}", `{"a":0,"b":10000000000}`},
	}
	for _, tt := range tests {
		got, err := Canonical([]byte(tt.in), false)
		if err != nil {
			t.Errorf("Canonical(%s): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Canonical(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		strict bool
		want   string // "" means an error is expected
	}{
		{"escapes", `"\"\\\/\b\f\n\r\t\u0001\u001f\u007f"`, false, `"\"\\/\b\f\n\r\t\u0001\u001f` + "\x7f" + `"`},
		{"html not escaped", `"<>&\u003c\u2028"`, false, "\"<>&<\u2028\""},
		{"surrogate pair", `"\ud83d\ude00"`, false, `"😀"`},
		{"lone high surrogate", `"\ud83d"`, false, ""},
		{"lone low surrogate", `"\ude00"`, false, ""},
		{"high then non-low", `"\ud83d\u0041"`, false, ""},
		{"invalid utf8", "\"\xff\"", false, ""},
		{"raw control char", "\"\x01\"", false, ""},
		{"bad escape", `"\x"`, false, ""},
		{"duplicate key", `{"a":1,"a":2}`, false, ""},
		{"nested sort", `{"b":{"d":1,"c":[3,{"z":1,"y":2}]},"a":true}`, false, `{"a":true,"b":{"c":[3,{"y":2,"z":1}],"d":1}}`},
		{"codepoint order", `{"é":1,"z":2,"Z":3,"\u0000":4}`, false, `{"\u0000":4,"Z":3,"z":2,"é":1}`},
		{"whitespace", " [ 1 , 2 ,\n\t\r3 ] ", false, `[1,2,3]`},
		{"empty array", `[ ]`, false, `[]`},
		{"literals", `[true,false,null]`, false, `[true,false,null]`},
		{"trailing data", `{} {}`, false, ""},
		{"trailing comma", `[1,]`, false, ""},
		{"trailing comma object", `{"a":1,}`, false, ""},
		{"leading zero", `01`, false, ""},
		{"bad literal", `tru`, false, ""},
		{"empty input", ``, false, ""},
		{"big integer exact", `123456789012345678901234567890`, false, `123456789012345678901234567890`},
		{"negative big", `-9007199254740993`, false, `-9007199254740993`},
		{"fraction integral", `1.000`, false, `1`},
		{"exponent", `12.5e1`, false, `125`},
		{"negative exponent integral", `1500e-2`, false, `15`},
		{"float kept", `1.5`, false, `1.5`},
		{"small float", `0.00001`, false, `1e-05`},
		{"float rounds to integer", `123456789012345678901.5`, false, `123456789012345683968`},
		{"underflow", `1e-400`, false, `0`},
		{"huge exponent", `1e100000`, false, ""},
		{"strict ok", `{"a":9007199254740991,"b":-9007199254740991,"c":-0}`, true, `{"a":9007199254740991,"b":-9007199254740991,"c":0}`},
		{"strict too big", `9007199254740992`, true, ""},
		{"strict too small", `-9007199254740992`, true, ""},
		{"strict float", `1.0`, true, ""},
		{"strict exponent", `1e3`, true, ""},
		{"strict huge", `99999999999999999999999`, true, ""},
		{"deep ok", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), false, strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), false, ""},
		{"unterminated", `{"a":`, false, ""},
		{"unterminated string", `"abc`, false, ""},
		{"missing colon", `{"a" 1}`, false, ""},
		{"non-string key", `{1:2}`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical([]byte(tt.in), tt.strict)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Canonical(%q) = %q, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Canonical(%q): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Fatalf("Canonical(%q) = %q, want %q", tt.in, got, tt.want)
			}
			again, err := Canonical(got, tt.strict)
			if err != nil || string(again) != string(got) {
				t.Fatalf("not idempotent: %q -> %q (%v)", got, again, err)
			}
		})
	}
}

func TestMarshalAndIsCanonical(t *testing.T) {
	got, err := Marshal(map[string]any{"b": "<x>", "a": []int{1, 2}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"a":[1,2],"b":"<x>"}` {
		t.Fatalf("Marshal = %s", got)
	}
	if !IsCanonical(got, true) {
		t.Error("IsCanonical(canonical) = false")
	}
	if IsCanonical([]byte(`{"b":1,"a":2}`), false) {
		t.Error("IsCanonical(unsorted) = true")
	}
	if _, err := Marshal(func() {}, false); err == nil {
		t.Error("Marshal(func) succeeded")
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5,-0,1e10,"\u00e9\ud83d\ude00"],"b":{"c":null}}`,
		`"\n\u0000"`, `[1e-400, 123456789012345678901234567890]`, `{"b":1,"a":2}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, strict bool) {
		out, err := Canonical(in, strict)
		if err != nil {
			return
		}
		if !json.Valid(in) || !json.Valid(out) {
			t.Fatalf("accepted invalid JSON: %q -> %q", in, out)
		}
		again, err := Canonical(out, strict)
		if err != nil {
			t.Fatalf("canonical output rejected: %q: %v", out, err)
		}
		if string(again) != string(out) {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}
