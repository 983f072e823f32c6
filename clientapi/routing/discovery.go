package routing

import (
	"net/http"

	"github.com/axon-matrix/axon/matrix"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// supportedVersions are the client-server spec versions this server implements (the
// endpoints of each that clients rely on; anything unbuilt answers M_UNRECOGNIZED).
var supportedVersions = []string{
	"r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
	"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12",
}

// versions serves GET /_matrix/client/versions.
func (rt *Routes) versions(r *http.Request, _ *userapi.Device) (any, error) {
	return map[string]any{"versions": supportedVersions, "unstable_features": map[string]bool{}}, nil
}

// wellKnown serves GET /.well-known/matrix/client.
func (rt *Routes) wellKnown(r *http.Request, _ *userapi.Device) (any, error) {
	return rt.wellKnownBody(), nil
}

func (rt *Routes) wellKnownBody() map[string]any {
	return map[string]any{"m.homeserver": map[string]string{"base_url": rt.cfg.PublicBaseURL}}
}

// capabilities serves GET /capabilities.
func (rt *Routes) capabilities(r *http.Request, _ *userapi.Device) (any, error) {
	available := map[string]string{}
	for _, v := range matrix.RoomVersions() {
		state := "unstable"
		if v.Stable {
			state = "stable"
		}
		available[string(v.ID)] = state
	}
	return map[string]any{"capabilities": map[string]any{
		"m.change_password": map[string]bool{"enabled": true},
		"m.room_versions":   map[string]any{"default": rt.cfg.defaultRoomVersion(), "available": available},
		"m.set_displayname": map[string]bool{"enabled": true},
		"m.set_avatar_url":  map[string]bool{"enabled": true},
		"m.3pid_changes":    map[string]bool{"enabled": false},
		"m.get_login_token": map[string]bool{"enabled": false},
	}}, nil
}

// turnServer serves GET /voip/turnServer. No TURN server is configured, so, like Synapse
// without turn_uris, it answers an empty object.
func (rt *Routes) turnServer(r *http.Request, _ *userapi.Device) (any, error) {
	return empty, nil
}
