package setup

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

func TestRequestLog(t *testing.T) {
	tests := []struct {
		format string
		parse  func(t *testing.T, line string) map[string]any
	}{
		{"json", func(t *testing.T, line string) map[string]any {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			return m
		}},
		{"text", func(t *testing.T, line string) map[string]any {
			m := map[string]any{}
			for _, f := range strings.Fields(line) {
				if k, v, ok := strings.Cut(f, "="); ok {
					m[k] = strings.Trim(v, `"`)
				}
			}
			return m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			b := newTestBase(t, func(c *config.Config) {
				c.Global.Logging.Format = tt.format
				c.Global.Logging.Level = "info"
			})
			var buf bytes.Buffer
			b.Logger.Logger.SetOutput(&buf)
			b.PublicClientAPIMux.HandleFunc("/v3/teapot", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
			})
			do(t, b.PublicHandler(), "GET", "/_matrix/client/v3/teapot?access_token=SECRET", map[string]string{RequestIDHeader: "req-42"})
			out := buf.String()
			if strings.Contains(out, "SECRET") {
				t.Fatalf("request log leaks the access token: %s", out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 1 {
				t.Fatalf("want one log line, got %q", out)
			}
			m := tt.parse(t, lines[0])
			want := map[string]string{"request_id": "req-42", "component": "test", "method": "GET",
				"path": "/_matrix/client/v3/teapot", "status": "418"}
			for k, v := range want {
				if got := toString(m[k]); got != v {
					t.Errorf("field %s = %q, want %q (line %q)", k, got, v, lines[0])
				}
			}
		})
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return ""
	}
}
