package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/csapi"
)

func TestExplainRateLimit(t *testing.T) {
	limited := &csapi.Error{Status: 429, ErrCode: "M_LIMIT_EXCEEDED", Body: `{"errcode":"M_LIMIT_EXCEEDED"}`}
	tests := []struct {
		name    string
		err     error
		limited bool
	}{
		{"429", limited, true},
		{"wrapped 429", fmt.Errorf("register lt1: %w", limited), true},
		{"403", &csapi.Error{Status: 403, ErrCode: "M_FORBIDDEN"}, false},
		{"transport", errors.New("connection refused"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRateLimited(tt.err); got != tt.limited {
				t.Fatalf("isRateLimited = %v", got)
			}
			got := explainRateLimit(tt.err)
			if hinted := strings.Contains(got.Error(), "global.rate_limits.enabled: false"); hinted != tt.limited {
				t.Fatalf("explainRateLimit = %q", got)
			}
			if !errors.Is(got, tt.err) {
				t.Fatal("explainRateLimit lost the error")
			}
		})
	}
}
