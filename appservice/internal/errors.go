package internal

import (
	"net/http"

	"github.com/axon-matrix/axon/internal/httputil"
)

// The ping endpoint's errors (client-server API, POST /appservice/{appserviceId}/ping).

func urlNotSet() error {
	return &httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: "M_URL_NOT_SET", Err: "Application service doesn't have a URL configured"}
}

func badStatus(status int, body string) error {
	return &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_BAD_STATUS",
		Err: "Application service returned a bad status", Extra: map[string]any{"status": status, "body": body}}
}

func connFailed(err error) error {
	return &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_CONNECTION_FAILED",
		Err: "Connection to the application service failed: " + err.Error()}
}

func connTimeout() error {
	return &httputil.MatrixError{Status: http.StatusGatewayTimeout, ErrCode: "M_CONNECTION_TIMEOUT",
		Err: "Connection to the application service timed out"}
}
