// Package routing holds the federationapi's HTTP handlers: the key endpoints (keys.go),
// /version (version.go), the X-Matrix authentication of federation requests (auth.go),
// and the room endpoints of arrow 3: /send (send.go, txncache.go), /event, /state,
// /state_ids and /get_missing_events (events.go), make_join and send_join (joins.go),
// make_leave, send_leave and invite (leaves.go), /query/profile and /query/directory
// (queries.go), /event_auth, /backfill and /timestamp_to_event (history.go),
// /publicRooms (publicrooms.go), /hierarchy (hierarchy.go), server ACLs (acl.go), the auth chains of received events
// (authchain.go) and arrow 8 to the federationsender (contact.go).
package routing

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	asapi "github.com/axon-matrix/axon/appservice/api"
	eduapi "github.com/axon-matrix/axon/eduserver/api"
	fsapi "github.com/axon-matrix/axon/federationsender/api"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// DefaultMaxBodyBytes bounds a federation request body (a transaction holds at most 50
// PDUs of 64 KiB and 100 EDUs).
const DefaultMaxBodyBytes = 16 << 20

// Config is what the handlers need.
type Config struct {
	// ServerName is global.server_name: requests must be addressed to it.
	ServerName string
	// MaxBodyBytes bounds request bodies (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// RoomServer answers the room endpoints (arrow 3: /send, /event, /state, /state_ids,
	// make_join, send_join); when nil they are not served (404 M_UNRECOGNIZED).
	RoomServer rsapi.RoomserverAPI
	// Fetcher asks other servers for the missing prev_events of what they send
	// (get_missing_events); *federation.Client implements it. When nil, an event with
	// missing prev_events is answered with that error.
	Fetcher MissingEventsFetcher
	// EDUServer takes the EDUs of /send (arrow 5: typing, receipts, presence, to-device);
	// when nil they are dropped.
	EDUServer eduapi.EDUServerAPI
	// KeyServer answers /user/devices, /user/keys/query and /user/keys/claim (arrow 15,
	// keys_user.go); when nil they are not served (404 M_UNRECOGNIZED).
	KeyServer keyapi.KeyServerAPI
	// UserAPI answers /query/profile (queries.go); when nil it is not served (404
	// M_UNRECOGNIZED). userapi.UserAPI and its inthttp client implement it.
	UserAPI ProfileReader
	// FederationSender hears of every server whose request passed the X-Matrix check (arrow
	// 8, contact.go: its queue stops backing off), at most once a minute per server; when
	// nil nobody is told.
	FederationSender fsapi.ContactAPI
	// AppServices and AppService (arrow 9, queries.go): an unknown user or alias of
	// /query/profile or /query/directory in an application service's namespaces is asked
	// of the service (which may create it) before the 404; nil: nobody is asked.
	AppServices *asapi.Registrations
	AppService  asapi.AppServiceAPI

	// contacts is FederationSender's rate limit, shared by every route (set by Setup).
	contacts *contactNotifier
}

// MissingEventsFetcher is the part of matrix/federation's client /send needs.
type MissingEventsFetcher interface {
	GetMissingEvents(ctx context.Context, destination, roomID string, req federation.MissingEventsRequest) (federation.MissingEventsResponse, error)
}

// Setup registers the federationapi's routes, by their full paths, on fed (for
// /_matrix/federation) and key (for /_matrix/key): routers such as setup.FullPathRouter
// gives, which answer a known path with the wrong method 405 M_UNRECOGNIZED. Paths not
// registered here answer 404 M_UNRECOGNIZED (the base router).
func Setup(fed, key *mux.Router, cfg Config, keys skapi.ServerKeyAPI) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.contacts == nil {
		cfg.contacts = newContactNotifier(cfg.FederationSender) // arrow 8
	}
	k := &keyHandlers{keys: keys, maxBody: cfg.MaxBodyBytes}
	key.Handle("/_matrix/key/v2/server", http.HandlerFunc(k.serverKeys)).Methods(http.MethodGet)
	// Deprecated form with a key ID: the same answer, with every key (as Synapse does).
	key.Handle("/_matrix/key/v2/server/{keyID}", http.HandlerFunc(k.serverKeys)).Methods(http.MethodGet)
	key.Handle("/_matrix/key/v2/query/{serverName}", http.HandlerFunc(k.queryOne)).Methods(http.MethodGet)
	key.Handle("/_matrix/key/v2/query", http.HandlerFunc(k.queryMany)).Methods(http.MethodPost)

	// Unauthenticated by the spec.
	fed.Handle("/_matrix/federation/v1/version", http.HandlerFunc(version)).Methods(http.MethodGet)
	addUserKeyRoutes(fed, cfg, keys) // arrow 15 (keys_user.go)
	addQueryRoutes(fed, cfg, keys)   // /query/profile and /query/directory (queries.go)

	if cfg.RoomServer == nil {
		return
	}
	// Arrow 3 (federationapi → roomserver), every request X-Matrix authenticated (arrow 11
	// for the keys) and every received event's signatures checked.
	authed := func(h http.HandlerFunc) http.Handler { return Authenticate(cfg, keys, h) }
	// Paths with a {roomId}: the room's server ACL first (acl.go).
	inRoom := func(h http.HandlerFunc) http.Handler { return authed(withACL(cfg.RoomServer, h)) }
	lookup := eventKeyLookup(keys)
	verify := func(ctx context.Context, e *event.Event) error { return event.VerifyEventSignatures(ctx, e, lookup) }
	send := &sendHandler{cfg: cfg, rs: cfg.RoomServer, txns: newTxnCache(maxTxns), keys: verify, lookup: lookup, edu: cfg.EDUServer}
	fed.Handle("/_matrix/federation/v1/send/{txnId}", authed(send.serve)).Methods(http.MethodPut)
	ev := &eventHandlers{cfg: cfg, rs: cfg.RoomServer}
	fed.Handle("/_matrix/federation/v1/event/{eventId}", authed(ev.event)).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/state/{roomId}", inRoom(ev.state(false))).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/state_ids/{roomId}", inRoom(ev.state(true))).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/get_missing_events/{roomId}", inRoom(ev.missingEvents)).Methods(http.MethodPost)
	// History (history.go): the auth chain of an event, backfill, timestamp_to_event.
	fed.Handle("/_matrix/federation/v1/event_auth/{roomId}/{eventId}", inRoom(ev.eventAuth)).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/backfill/{roomId}", inRoom(ev.backfill)).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/timestamp_to_event/{roomId}", inRoom(ev.timestampToEvent)).Methods(http.MethodGet)
	// Spaces (hierarchy.go).
	fed.Handle("/_matrix/federation/v1/hierarchy/{roomId}", inRoom(ev.hierarchy)).Methods(http.MethodGet)
	pr := &publicRoomsHandler{cfg: cfg, rs: cfg.RoomServer} // publicrooms.go
	fed.Handle("/_matrix/federation/v1/publicRooms", authed(pr.serve)).Methods(http.MethodGet, http.MethodPost)
	j := &joinHandlers{cfg: cfg, rs: cfg.RoomServer, keys: verify}
	fed.Handle("/_matrix/federation/v1/make_join/{roomId}/{userId}", inRoom(j.makeMembership("join"))).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/send_join/{roomId}/{eventId}", inRoom(j.sendJoin(true))).Methods(http.MethodPut)
	fed.Handle("/_matrix/federation/v2/send_join/{roomId}/{eventId}", inRoom(j.sendJoin(false))).Methods(http.MethodPut)
	fed.Handle("/_matrix/federation/v1/make_leave/{roomId}/{userId}", inRoom(j.makeMembership("leave"))).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/send_leave/{roomId}/{eventId}", inRoom(j.sendLeave(true))).Methods(http.MethodPut)
	fed.Handle("/_matrix/federation/v2/send_leave/{roomId}/{eventId}", inRoom(j.sendLeave(false))).Methods(http.MethodPut)
	fed.Handle("/_matrix/federation/v1/make_knock/{roomId}/{userId}", inRoom(j.makeMembership("knock"))).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/send_knock/{roomId}/{eventId}", inRoom(j.sendKnock)).Methods(http.MethodPut)
	fed.Handle("/_matrix/federation/v1/invite/{roomId}/{eventId}", inRoom(j.invite(true))).Methods(http.MethodPut)
	fed.Handle("/_matrix/federation/v2/invite/{roomId}/{eventId}", inRoom(j.invite(false))).Methods(http.MethodPut)
}
