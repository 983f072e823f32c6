package routing

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	asapi "github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// The federation queries: GET /_matrix/federation/v1/query/profile (the userapi answers,
// over the Tier 1 → userapi arrow) and GET /_matrix/federation/v1/query/directory (the
// roomserver answers, arrow 3; the other side of arrow 7's directory lookups). Both are
// X-Matrix authenticated and answer for this server's users and aliases only.

// ProfileReader is the part of the userapi the profile query needs; userapi.UserAPI and
// its inthttp client implement it.
type ProfileReader interface {
	GetProfile(ctx context.Context, userID string) (*userapi.Profile, error)
}

// aliasResolver is the part of the roomserver the directory query needs.
type aliasResolver interface {
	ResolveRoomAlias(ctx context.Context, alias string) (roomID string, servers []string, err error)
}

type queryHandlers struct {
	cfg      Config
	profiles ProfileReader
	aliases  aliasResolver
}

// addQueryRoutes registers the query routes whose component is configured: profile with
// Config.UserAPI, directory with Config.RoomServer.
func addQueryRoutes(fed *mux.Router, cfg Config, keys skapi.ServerKeyAPI) {
	h := &queryHandlers{cfg: cfg, profiles: cfg.UserAPI}
	if cfg.RoomServer != nil {
		h.aliases = cfg.RoomServer
	}
	authed := func(f http.HandlerFunc) http.Handler { return Authenticate(cfg, keys, f) }
	if cfg.UserAPI != nil {
		fed.Handle("/_matrix/federation/v1/query/profile", authed(h.profile)).Methods(http.MethodGet)
	}
	if h.aliases != nil {
		fed.Handle("/_matrix/federation/v1/query/directory", authed(h.directory)).Methods(http.MethodGet)
	}
}

// profile serves GET /query/profile?user_id=&field=: the user's displayname and
// avatar_url (only the one named by field, when given). 400 M_INVALID_PARAM for another
// server's user or an unknown field, 404 M_NOT_FOUND for an unknown user.
func (h *queryHandlers) profile(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	userID, field := q.Get("user_id"), q.Get("field")
	if userID == "" {
		httputil.WriteError(w, httputil.MissingParam("user_id is required"))
		return
	}
	if server, ok := matrix.ServerNameOf(userID); !ok || !matrix.ValidUserID(userID) || server != h.cfg.ServerName {
		httputil.WriteError(w, httputil.InvalidParam("%q is not a user of this server", userID))
		return
	}
	if field != "" && field != "displayname" && field != "avatar_url" {
		httputil.WriteError(w, httputil.InvalidParam("Unknown profile field %q", field))
		return
	}
	p, err := h.profiles.GetProfile(r.Context(), userID)
	if isNotFound(err) && h.askAppService(r.Context(), userID, "") { // arrow 9
		p, err = h.profiles.GetProfile(r.Context(), userID)
	}
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	out := map[string]string{}
	if (field == "" || field == "displayname") && p.DisplayName != "" {
		out["displayname"] = p.DisplayName
	}
	if (field == "" || field == "avatar_url") && p.AvatarURL != "" {
		out["avatar_url"] = p.AvatarURL
	}
	httputil.WriteJSON(w, http.StatusOK, out)
}

// directory serves GET /query/directory?room_alias=: {"room_id", "servers"} for an alias
// of this server, the servers being this one first, then every server with a joined
// member. 404 M_NOT_FOUND for an unknown alias or another server's.
func (h *queryHandlers) directory(w http.ResponseWriter, r *http.Request) {
	alias := r.URL.Query().Get("room_alias")
	if alias == "" {
		httputil.WriteError(w, httputil.MissingParam("room_alias is required"))
		return
	}
	if !matrix.ValidRoomAlias(alias) {
		httputil.WriteError(w, httputil.InvalidParam("Invalid room alias %q", alias))
		return
	}
	if server, _ := matrix.ServerNameOf(alias); server != h.cfg.ServerName {
		httputil.WriteError(w, httputil.NotFound("Room alias %s is not on this server", alias))
		return
	}
	roomID, servers, err := h.aliases.ResolveRoomAlias(r.Context(), alias)
	if isNotFound(err) && h.askAppService(r.Context(), "", alias) { // arrow 9
		roomID, servers, err = h.aliases.ResolveRoomAlias(r.Context(), alias)
	}
	if err != nil {
		httputil.WriteError(w, err)
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_id": roomID, "servers": servers})
}

// askAppService (arrow 9: federationapi → appservice) asks the application services
// whose namespaces hold the unknown local user (or alias) whether it exists (GET
// /_matrix/app/v1/users/…, /rooms/…): true when one created it, so the lookup is tried
// again. Without such a service it costs nothing.
func (h *queryHandlers) askAppService(ctx context.Context, userID, alias string) bool {
	if h.cfg.AppService == nil {
		return false
	}
	concerned := false
	for _, reg := range h.cfg.AppServices.All() {
		if reg.HasURL() && ((userID != "" && reg.OwnsUser(userID)) || (alias != "" && reg.InterestedInAlias(alias))) {
			concerned = true
			break
		}
	}
	if !concerned {
		return false
	}
	var resp *asapi.QueryResponse
	var err error
	if userID != "" {
		resp, err = h.cfg.AppService.QueryUser(ctx, &asapi.QueryUserRequest{UserID: userID})
	} else {
		resp, err = h.cfg.AppService.QueryAlias(ctx, &asapi.QueryAliasRequest{Alias: alias})
	}
	return err == nil && resp.Exists
}
