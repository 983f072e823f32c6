package api

import "context"

// AppServiceAPI is the appservice component's internal API (arrow 10: clientapi →
// appservice; arrow 9, federationapi → appservice, will use it too).
type AppServiceAPI interface {
	// Ping calls the service's POST /_matrix/app/v1/ping (the client API's
	// POST /_matrix/client/v1/appservice/{appserviceId}/ping). Errors are the spec's:
	// 400 M_URL_NOT_SET, 502 M_BAD_STATUS (with status and body) or M_CONNECTION_FAILED,
	// 504 M_CONNECTION_TIMEOUT; 404 M_NOT_FOUND for an unknown service ID.
	Ping(ctx context.Context, req *PingRequest) (*PingResponse, error)
	// QueryUser asks the services whose user namespaces hold the (unknown) user ID
	// whether it exists (GET /_matrix/app/v1/users/{userId}): Exists is true once one
	// answered 200, having created the user. Negative answers are cached for a while.
	QueryUser(ctx context.Context, req *QueryUserRequest) (*QueryResponse, error)
	// QueryAlias is QueryUser for an unknown room alias (GET /_matrix/app/v1/rooms/{roomAlias}):
	// true once a service answered 200, having created the room and the alias.
	QueryAlias(ctx context.Context, req *QueryAliasRequest) (*QueryResponse, error)
}

// QueryUserRequest names the user asked about.
type QueryUserRequest struct {
	UserID string `json:"user_id"`
}

// QueryAliasRequest names the room alias asked about.
type QueryAliasRequest struct {
	Alias string `json:"alias"`
}

// QueryResponse says whether a service claimed the user or alias.
type QueryResponse struct {
	Exists bool `json:"exists"`
}

// PingRequest names the service and the optional transaction ID passed through.
type PingRequest struct {
	AppServiceID  string `json:"appservice_id"`
	TransactionID string `json:"transaction_id,omitempty"`
}

// PingResponse is how long the service took to answer.
type PingResponse struct {
	DurationMS int64 `json:"duration_ms"`
}
