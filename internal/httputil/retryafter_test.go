package httputil

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
)

func TestWriteErrorRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		header string
	}{
		{"limit exceeded", LimitExceeded(4999), "5"},
		{"under a second", LimitExceeded(1), "1"},
		{"whole seconds", LimitExceeded(3000), "3"},
		{"decoded from JSON", &MatrixError{Status: 429, ErrCode: "M_LIMIT_EXCEEDED", Extra: map[string]any{"retry_after_ms": 1500.0}}, "2"},
		{"429 without retry_after_ms", &MatrixError{Status: 429, ErrCode: "M_LIMIT_EXCEEDED"}, ""},
		{"other error", Forbidden("no"), ""},
		{"not a Matrix error", errors.New("boom"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, tt.err)
			if got := rec.Header().Get("Retry-After"); got != tt.header {
				t.Fatalf("Retry-After = %q, want %q", got, tt.header)
			}
		})
	}
	rec := httptest.NewRecorder()
	WriteError(rec, LimitExceeded(4999))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 429 ||
		body["errcode"] != "M_LIMIT_EXCEEDED" || body["retry_after_ms"] != 4999.0 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
