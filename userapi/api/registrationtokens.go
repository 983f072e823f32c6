package api

// RegistrationToken is a token that lets someone register while client_api.registration_mode
// is "token" (spec 1.2, m.login.registration_token). Its JSON is the object of Synapse's
// admin API (/_synapse/admin/v1/registration_tokens), so admin tools read it as they are.
// A nil UsesAllowed or ExpiryTime means no limit (null in JSON).
type RegistrationToken struct {
	Token string `json:"token"`
	// UsesAllowed is how many accounts may be created with it.
	UsesAllowed *int64 `json:"uses_allowed"`
	// Pending counts registrations that passed the token stage and have not finished.
	Pending int64 `json:"pending"`
	// Completed counts accounts created with it.
	Completed int64 `json:"completed"`
	// ExpiryTime is when it stops being valid, in ms since the epoch.
	ExpiryTime *int64 `json:"expiry_time"`
}

// NewRegistrationTokenRequest creates a token. An empty Token gets a random one of Length
// characters (default 16) from A-Za-z0-9._~- .
type NewRegistrationTokenRequest struct {
	Token       string `json:"token,omitempty"`
	Length      int    `json:"length,omitempty"`
	UsesAllowed *int64 `json:"uses_allowed"`
	ExpiryTime  *int64 `json:"expiry_time"`
}

// UpdateRegistrationTokenRequest changes the limits of a token: each Set* says whether its
// field is changed (to a value, or to nil: no limit).
type UpdateRegistrationTokenRequest struct {
	Token          string `json:"token"`
	SetUsesAllowed bool   `json:"set_uses_allowed,omitempty"`
	UsesAllowed    *int64 `json:"uses_allowed"`
	SetExpiryTime  bool   `json:"set_expiry_time,omitempty"`
	ExpiryTime     *int64 `json:"expiry_time"`
}
