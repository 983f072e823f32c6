package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/axon-matrix/axon/internal/csapi"
)

// rateLimitHint says what to do when the server under test rate limits the load.
const rateLimitHint = "the server answered 429 M_LIMIT_EXCEEDED: its rate limits are on; a load test needs them off " +
	"(Axon: global.rate_limits.enabled: false in the server's config; Synapse: the rc_* settings)"

// isRateLimited says whether err is the server's 429 answer.
func isRateLimited(err error) bool {
	var e *csapi.Error
	return errors.As(err, &e) && e.Status == http.StatusTooManyRequests
}

// explainRateLimit adds rateLimitHint to a 429 error; other errors pass unchanged.
func explainRateLimit(err error) error {
	if isRateLimited(err) {
		return fmt.Errorf("%w\n%s", err, rateLimitHint)
	}
	return err
}
