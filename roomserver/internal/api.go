// Package internal implements api.RoomserverAPI: the room DAG, event auth, room state and
// its storage, and the roomserver's outputs. It serves arrow 4 (clientapi → roomserver:
// computing prev/auth events and sending new events, serving /state), arrow 2 (syncapi) and
// arrow 3 (federationapi: federation_input.go, federation_join.go); it produces topic 2
// (→ syncapi) and topic 4 (→ clientapi) through the outbox, and calls arrow 17
// (→ federationsender) for remote joins (remotejoin.go).
// Topic 6 (→ federationsender) carries local events to the room's other servers
// (writer.go, stageFederation).
package internal

import (
	"crypto/ed25519"
	"time"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/writepos"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// maxEventSize is the spec's limit on a whole event in federation format.
const maxEventSize = 65536

// Topics are the full names (with the configured prefix) of the topics the roomserver
// produces.
type Topics struct {
	// RoomEvent is topic 2 (roomserver → syncapi).
	RoomEvent string
	// Membership is topic 4 (roomserver → clientapi).
	Membership string
	// Federation is topic 6 (roomserver → federationsender); "" stages nothing (a server
	// without federation).
	Federation string
}

// RoomserverInternalAPI is the direct implementation of api.RoomserverAPI.
type RoomserverInternalAPI struct {
	db         *storage.Database
	serverName string
	events     eventLib
	outbox     eventlog.Outbox
	topics     Topics
	locks      roomLocks
	cache      *eventCache
	heads      *roomHeads
	sendq      sendQueues
	writes     *writepos.Tracker
	now        func() time.Time
	// fedSender is arrow 17 (roomserver → federationsender), for joins of rooms this
	// server does not hold; nil without federation (WithFederationSender).
	fedSender fsapi.FederationSenderAPI
	// spaces holds /hierarchy walks between pages (hierarchy.go).
	spaces hierarchySessions
}

var _ api.RoomserverAPI = (*RoomserverInternalAPI)(nil)

// New returns the roomserver implementation over an opened storage.Database, signing
// local events with key (keyID "ed25519:…") as serverName.
func New(db *storage.Database, serverName, keyID string, key ed25519.PrivateKey, outbox eventlog.Outbox, topics Topics, opts ...Option) *RoomserverInternalAPI {
	a := newAPI(db, serverName, newMatrixEventLib(serverName, keyID, key), outbox, topics)
	for _, o := range opts {
		o(a)
	}
	return a
}

// newAPI wires the implementation; NewInternalAPI (roomserver.go) builds its arguments.
func newAPI(db *storage.Database, serverName string, events eventLib, outbox eventlog.Outbox, topics Topics) *RoomserverInternalAPI {
	a := &RoomserverInternalAPI{db: db, serverName: serverName, events: events, outbox: outbox, topics: topics,
		cache: newEventCache(10000), heads: newRoomHeads(4096), now: time.Now}
	a.writes = &writepos.Tracker{Load: db.Reader().StreamPos}
	return a
}
