package federation

import (
	"context"
	"net/http"
	"net/url"
)

// DirectoryResponse is where a room alias points.
type DirectoryResponse struct {
	RoomID  string   `json:"room_id"`
	Servers []string `json:"servers"`
}

// QueryDirectory resolves a room alias on its server (GET
// /_matrix/federation/v1/query/directory; arrow 7 of ARCHITECTURE.md §2 ends here).
func (c *Client) QueryDirectory(ctx context.Context, destination, alias string) (DirectoryResponse, error) {
	var out DirectoryResponse
	err := c.Do(ctx, destination, http.MethodGet, "/_matrix/federation/v1/query/directory", url.Values{"room_alias": {alias}}, nil, &out)
	return out, err
}

// ProfileResponse is a user's profile, or the one field asked for.
type ProfileResponse struct {
	DisplayName string `json:"displayname,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// QueryProfile fetches a remote user's profile (GET /_matrix/federation/v1/query/profile).
// field is "displayname", "avatar_url" or "" for the whole profile.
func (c *Client) QueryProfile(ctx context.Context, destination, userID, field string) (ProfileResponse, error) {
	q := url.Values{"user_id": {userID}}
	if field != "" {
		q.Set("field", field)
	}
	var out ProfileResponse
	err := c.Do(ctx, destination, http.MethodGet, "/_matrix/federation/v1/query/profile", q, nil, &out)
	return out, err
}

// VersionResponse names a server's implementation.
type VersionResponse struct {
	Server struct {
		Name    string `json:"name,omitempty"`
		Version string `json:"version,omitempty"`
	} `json:"server"`
}

// Version sends GET /_matrix/federation/v1/version.
func (c *Client) Version(ctx context.Context, destination string) (VersionResponse, error) {
	var out VersionResponse
	err := c.Do(ctx, destination, http.MethodGet, "/_matrix/federation/v1/version", nil, nil, &out)
	return out, err
}
