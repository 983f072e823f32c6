package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/internal/csapi"
)

// retryable: no answer, 5xx and 429 are repeated with the same transaction ID; any other
// answer is final, and so is the drill's own cancellation.
func TestRetryable(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"no answer", errors.New("dial tcp: connection refused"), true},
		{"502 from the proxy", &csapi.Error{Status: 502, Body: "bad gateway"}, true},
		{"500 wrapped", fmt.Errorf("sending: %w", &csapi.Error{Status: 500}), true},
		{"429", &csapi.Error{Status: 429, ErrCode: "M_LIMIT_EXCEEDED"}, true},
		{"403", &csapi.Error{Status: 403, ErrCode: "M_FORBIDDEN"}, false},
		{"400", &csapi.Error{Status: 400, ErrCode: "M_BAD_JSON"}, false},
		{"canceled", fmt.Errorf("put: %w", context.Canceled), false},
		{"deadline", context.DeadlineExceeded, true},
	}
	for _, tc := range cases {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("%s: retryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
