package federation

import (
	"encoding/json"
	"fmt"
)

// HTTPError is a non-2xx answer from a remote server. ErrCode and Message come from the
// spec's error JSON when the body is one.
type HTTPError struct {
	StatusCode int
	ErrCode    string
	Message    string
	// Body is the raw response body (capped), for fields like room_version in
	// M_INCOMPATIBLE_ROOM_VERSION.
	Body []byte
}

// Error implements error.
func (e *HTTPError) Error() string {
	if e.ErrCode != "" {
		return fmt.Sprintf("federation: HTTP %d: %s: %s", e.StatusCode, e.ErrCode, e.Message)
	}
	return fmt.Sprintf("federation: HTTP %d", e.StatusCode)
}

func newHTTPError(status int, body []byte) *HTTPError {
	e := &HTTPError{StatusCode: status, Body: body}
	var m struct {
		ErrCode string `json:"errcode"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &m) == nil {
		e.ErrCode, e.Message = m.ErrCode, m.Error
	}
	return e
}
