package httputil

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSONObject(t *testing.T) {
	type body struct {
		A string         `json:"a"`
		B map[string]any `json:"b"`
	}
	many := func(dupAt int) string { // an object with 40 keys: past the slice, into the map
		var sb strings.Builder
		sb.WriteString("{")
		for i := 0; i < 40; i++ {
			if i > 0 {
				sb.WriteString(",")
			}
			k := i
			if i == dupAt {
				k = 3
			}
			sb.WriteString(`"k` + string(rune('A'+k%26)) + string(rune('a'+k/26)) + `":1`)
		}
		sb.WriteString("}")
		return sb.String()
	}
	tests := []struct {
		name, raw string
		wantCode  string // "" = accepted
		wantA     string
	}{
		{"object", `{"a":"x","b":{"c":[1,{"d":null}]}}`, "", "x"},
		{"whitespace around", " \n\t{\"a\" : \"y\"}\r\n", "", "y"},
		{"unicode", `{"a":"é 😀 \u00e9"}`, "", "é 😀 é"},
		{"same key in different objects", `{"a":"x","b":{"a":1,"b":{"a":2}}}`, "", "x"},
		{"same key in array elements", `{"b":{"l":[{"k":1},{"k":2}]}}`, "", ""},
		{"forty keys", many(-1), "", ""},
		{"escaped quote in key", `{"a\"":1,"a":"z"}`, "", "z"},

		{"invalid utf-8 in a string", "{\"a\":\"\xff\xfe\"}", "M_NOT_JSON", ""},
		{"invalid utf-8 in a key", "{\"\xc3\":1}", "M_NOT_JSON", ""},
		{"truncated utf-8", "{\"a\":\"\xe2\x82\"}", "M_NOT_JSON", ""},
		{"not json", `{nope`, "M_NOT_JSON", ""},
		{"empty", ``, "M_NOT_JSON", ""},
		{"trailing garbage", `{"a":"x"} x`, "M_NOT_JSON", ""},
		{"array", `[]`, "M_NOT_JSON", ""},
		{"string", `"x"`, "M_NOT_JSON", ""},
		{"null", `null`, "M_NOT_JSON", ""},
		{"number", `1`, "M_NOT_JSON", ""},
		{"duplicate top-level key", `{"a":"x","a":"y"}`, "M_NOT_JSON", ""},
		{"duplicate after unescaping", `{"a":"x","\u0061":"y"}`, "M_NOT_JSON", ""},
		{"duplicate nested", `{"a":"x","b":{"c":1,"c":2}}`, "M_NOT_JSON", ""},
		{"duplicate in an array's object", `{"b":{"l":[1,{"k":1,"k":1}]}}`, "M_NOT_JSON", ""},
		{"duplicate among forty keys", many(30), "M_NOT_JSON", ""},

		{"wrong type", `{"a":1}`, "M_BAD_JSON", ""},
		{"nested wrong type", `{"b":[]}`, "M_BAD_JSON", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v body
			me := DecodeJSONObject([]byte(tt.raw), &v)
			if tt.wantCode == "" {
				if me != nil {
					t.Fatalf("got %s %q, want success", me.ErrCode, me.Err)
				}
				if v.A != tt.wantA {
					t.Errorf("a = %q, want %q", v.A, tt.wantA)
				}
				return
			}
			if me == nil {
				t.Fatalf("accepted, want %s", tt.wantCode)
			}
			if me.ErrCode != tt.wantCode || me.Status != 400 {
				t.Errorf("got %d %s (%s), want 400 %s", me.Status, me.ErrCode, me.Err, tt.wantCode)
			}
		})
	}
}

func TestDuplicateKeyNames(t *testing.T) {
	tests := []struct{ raw, key string }{
		{`{"x":1,"y":{"z":[{"q":1,"q":2}]}}`, "q"},
		{`{"\u00e9":1,"é":2}`, "é"},
		{`{"a":[],"a":{}}`, "a"},
	}
	for _, tt := range tests {
		key, ok := duplicateKey([]byte(tt.raw))
		if !ok || key != tt.key {
			t.Errorf("duplicateKey(%s) = %q, %v; want %q", tt.raw, key, ok, tt.key)
		}
	}
}

func TestReadBodyLimits(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		contentLength int64 // -1: unknown (chunked)
		limit         int64
		wantCode      string
	}{
		{"within", `{"a":"x"}`, 9, 9, ""},
		{"over, length declared", `{"a":"xy"}`, 10, 9, "M_TOO_LARGE"},
		{"over, length unknown", `{"a":"xy"}`, -1, 9, "M_TOO_LARGE"},
		{"declared length lies", `{"a":"xy"}`, 2, 9, "M_TOO_LARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.ContentLength = tt.contentLength
			var v struct{}
			me := ReadJSONObject(r, tt.limit, &v)
			switch {
			case tt.wantCode == "" && me != nil:
				t.Fatalf("got %s, want success", me.ErrCode)
			case tt.wantCode != "" && (me == nil || me.ErrCode != tt.wantCode):
				t.Fatalf("got %v, want %s", me, tt.wantCode)
			case tt.wantCode == "M_TOO_LARGE" && me.Status != 413:
				t.Errorf("status %d, want 413", me.Status)
			}
		})
	}
}
