// Package httputil holds the HTTP plumbing every component shares: the spec's error JSON,
// JSON request/response helpers, and the error type that keeps a Matrix errcode intact from
// a Tier 2 component to the client.
package httputil

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
)

// MatrixError is the spec's error body ({"errcode", "error"}) with the HTTP status it goes
// out with. Component APIs return it so that, over internal HTTP or a direct call alike, an
// M_FORBIDDEN raised by the roomserver reaches the client as M_FORBIDDEN.
type MatrixError struct {
	Status  int    `json:"-"`
	ErrCode string `json:"errcode"`
	Err     string `json:"error"`
	// Extra holds additional top-level fields (e.g. retry_after_ms, room_version).
	Extra map[string]any `json:"-"`
}

func (e *MatrixError) Error() string { return fmt.Sprintf("%s: %s", e.ErrCode, e.Err) }

// Body returns the JSON object the client receives.
func (e *MatrixError) Body() map[string]any {
	m := map[string]any{"errcode": e.ErrCode, "error": e.Err}
	for k, v := range e.Extra {
		m[k] = v
	}
	return m
}

// AsMatrixError finds a *MatrixError in err's chain; any other error becomes a 500 M_UNKNOWN
// (its text is not shown to the client).
func AsMatrixError(err error) *MatrixError {
	var me *MatrixError
	if errors.As(err, &me) {
		return me
	}
	return &MatrixError{Status: http.StatusInternalServerError, ErrCode: "M_UNKNOWN", Err: "Internal server error"}
}

func newErr(status int, code, format string, args ...any) *MatrixError {
	return &MatrixError{Status: status, ErrCode: code, Err: fmt.Sprintf(format, args...)}
}

// The spec's error codes (client-server API, "Standard error response").

func Forbidden(format string, a ...any) *MatrixError { return newErr(403, "M_FORBIDDEN", format, a...) }
func UnknownToken(format string, a ...any) *MatrixError {
	return newErr(401, "M_UNKNOWN_TOKEN", format, a...)
}
func MissingToken(format string, a ...any) *MatrixError {
	return newErr(401, "M_MISSING_TOKEN", format, a...)
}
func BadJSON(format string, a ...any) *MatrixError  { return newErr(400, "M_BAD_JSON", format, a...) }
func NotJSON(format string, a ...any) *MatrixError  { return newErr(400, "M_NOT_JSON", format, a...) }
func NotFound(format string, a ...any) *MatrixError { return newErr(404, "M_NOT_FOUND", format, a...) }
func MissingParam(format string, a ...any) *MatrixError {
	return newErr(400, "M_MISSING_PARAM", format, a...)
}
func InvalidParam(format string, a ...any) *MatrixError {
	return newErr(400, "M_INVALID_PARAM", format, a...)
}
func TooLarge(format string, a ...any) *MatrixError { return newErr(413, "M_TOO_LARGE", format, a...) }
func LimitExceeded(retryAfterMS int64) *MatrixError {
	e := newErr(429, "M_LIMIT_EXCEEDED", "Too many requests")
	e.Extra = map[string]any{"retry_after_ms": retryAfterMS}
	return e
}

// setRetryAfter adds the Retry-After header (whole seconds, rounded up) to a 429 that
// carries retry_after_ms, as newer spec versions ask for next to the body field.
func setRetryAfter(w http.ResponseWriter, e *MatrixError) {
	if e.Status != http.StatusTooManyRequests {
		return
	}
	var ms float64
	switch v := e.Extra["retry_after_ms"].(type) {
	case int64:
		ms = float64(v)
	case int:
		ms = float64(v)
	case float64: // decoded from JSON (an error that crossed an internal API)
		ms = v
	default:
		return
	}
	w.Header().Set("Retry-After", strconv.FormatInt(max(int64(math.Ceil(ms/1000)), 1), 10))
}

func UserInUse(format string, a ...any) *MatrixError {
	return newErr(400, "M_USER_IN_USE", format, a...)
}
func InvalidUsername(format string, a ...any) *MatrixError {
	return newErr(400, "M_INVALID_USERNAME", format, a...)
}
func RoomInUse(format string, a ...any) *MatrixError {
	return newErr(400, "M_ROOM_IN_USE", format, a...)
}
func UnsupportedRoomVersion(format string, a ...any) *MatrixError {
	return newErr(400, "M_UNSUPPORTED_ROOM_VERSION", format, a...)
}
func Exclusive(format string, a ...any) *MatrixError { return newErr(400, "M_EXCLUSIVE", format, a...) }
func Unknown(format string, a ...any) *MatrixError   { return newErr(400, "M_UNKNOWN", format, a...) }

// Unrecognized is the honest answer of an endpoint that is not built (404 for an unknown
// path, 405 for a known path with the wrong method).
func Unrecognized(status int) *MatrixError {
	return newErr(status, "M_UNRECOGNIZED", "Unrecognized request")
}
