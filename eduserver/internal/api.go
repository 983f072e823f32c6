// Package internal implements api.EDUServerAPI: the eduserver end of arrow 6 (clientapi →
// eduserver), arrow 5 (federationapi → eduserver) and arrow 18 (syncapi → eduserver), and
// the producer of topic 3 (eduserver → syncapi) and topic 5 (eduserver →
// federationsender). Receipts and send-to-device transactions are stored in the
// eduserver's database and their topic 3 records staged on its outbox in the same
// transaction; typing lives in memory (typing.go) but its records take the same path, so
// every record has a dense position from one counter.
package internal

import (
	"context"
	"database/sql"
	"encoding/json"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/eduserver/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
)

// EDUServer is the direct implementation of api.EDUServerAPI.
type EDUServer struct {
	db         *storage.Database
	serverName string
	outbox     eventlog.Outbox
	topic      string // full name of topic 3
	// Now is the clock; tests replace it before the first call.
	Now func() time.Time
	// AfterFunc schedules the end of a typing notification (time.AfterFunc); tests
	// replace it.
	AfterFunc func(d time.Duration, f func()) Stopper
	log       *logrus.Entry

	typingMu sync.Mutex
	typing   map[string]map[string]*typer // room ID → user ID → typer

	// PresenceEnabled and PresenceIdle are edu_server.presence_enabled and
	// presence_idle_timeout (presence.go); set before the first call.
	PresenceEnabled bool
	PresenceIdle    time.Duration
	presenceMu      sync.Mutex // one presence change at a time

	writesMu sync.Mutex
	writes   map[string]int64 // user ID → newest topic 3 position their /sync must reflect
	// writesFloor covers what writes does not hold: writes from before the start, and
	// those forgotten when it was full.
	writesFloor int64

	// Fed is the federation side (federation_out.go, federation_in.go).
	Fed     Federation
	servers roomServers
}

// Stopper stops a scheduled function (*time.Timer).
type Stopper interface{ Stop() bool }

var _ api.EDUServerAPI = (*EDUServer)(nil)

// New returns the eduserver on db for serverName's users; its topic 3 records are staged
// on outbox (in db) under topic, the full name of topic 3.
func New(db *storage.Database, serverName string, outbox eventlog.Outbox, topic string) *EDUServer {
	return &EDUServer{db: db, serverName: serverName, outbox: outbox, topic: topic, Now: time.Now,
		AfterFunc: func(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) },
		log:       logrus.WithField("component", "eduserver"),
		typing:    map[string]map[string]*typer{}, PresenceEnabled: true, PresenceIdle: DefaultPresenceIdle,
		writes: map[string]int64{}}
}

// stage stages records on topic 3 inside tx; each gets the next position, in order. key
// gives each record's key.
func (e *EDUServer) stage(ctx context.Context, tx *sql.Tx, recs []api.OutputEDU, key func(*api.OutputEDU) string) error {
	if len(recs) == 0 {
		return nil
	}
	first, err := storage.NextPositions(ctx, tx, len(recs))
	if err != nil {
		return err
	}
	msgs := make([]eventlog.Message, len(recs))
	for i := range recs {
		recs[i].StreamPos = first + int64(i)
		value, err := json.Marshal(&recs[i])
		if err != nil {
			return err
		}
		// Topic 3: eduserver → syncapi.
		msgs[i] = eventlog.Message{Topic: e.topic, Key: key(&recs[i]), Value: value}
	}
	return e.outbox.Stage(ctx, tx, msgs...)
}

func (e *EDUServer) nowMS() int64 { return e.Now().UnixMilli() }
