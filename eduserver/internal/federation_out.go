package internal

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/eduserver/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/matrix"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Topic 5 (eduserver → federationsender): this server's users' typing, receipts
// (m.read only: private receipts stay here), presence and to-device messages for other
// servers' users, staged in the same transaction as their topic 3 records. Which servers
// are in a room is asked of the roomserver (arrow 19: QueryCurrentState's m.room.member
// events), remembered for roomServersTTL.

// Federation configures the eduserver's federation side; set before the first call. With
// FedTopic empty nothing goes to other servers (and nothing is taken from them without
// RoomServer).
type Federation struct {
	// FedTopic is the full name of topic 5.
	FedTopic string
	// RoomServer is arrow 19 (eduserver → roomserver): the servers joined to a room, a
	// remote user's membership, a user's rooms (presence).
	RoomServer rsapi.RoomserverAPI
	// Devices lists a local user's devices (arrow U) for a to-device message from
	// another server to "*".
	Devices interface {
		ListDevices(ctx context.Context, userID string) ([]userapi.Device, error)
	}
}

// roomServersTTL is how long the servers joined to a room are remembered.
const roomServersTTL = 10 * time.Second

type roomServers struct {
	mu    sync.Mutex
	rooms map[string]cachedServers
}

type cachedServers struct {
	at      time.Time
	servers []string
}

// joinedServers returns the other servers with a user joined to roomID (arrow 19).
func (e *EDUServer) joinedServers(ctx context.Context, roomID string) ([]string, error) {
	if e.Fed.FedTopic == "" || e.Fed.RoomServer == nil {
		return nil, nil
	}
	now := e.Now()
	e.servers.mu.Lock()
	c, ok := e.servers.rooms[roomID]
	e.servers.mu.Unlock()
	if ok && now.Sub(c.at) < roomServersTTL && now.Sub(c.at) >= 0 {
		return c.servers, nil
	}
	state, err := e.Fed.RoomServer.QueryCurrentState(ctx, roomID, nil)
	if me := matrixErr(err); me != nil && me.ErrCode == "M_NOT_FOUND" {
		return nil, nil // a room the roomserver does not know: nobody to tell
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, raw := range state {
		var ev struct {
			Type     string  `json:"type"`
			StateKey *string `json:"state_key"`
			Content  struct {
				Membership string `json:"membership"`
			} `json:"content"`
		}
		if json.Unmarshal(raw, &ev) != nil || ev.Type != "m.room.member" || ev.StateKey == nil || ev.Content.Membership != "join" {
			continue
		}
		server, ok := matrix.ServerNameOf(*ev.StateKey)
		if !ok || server == e.serverName || seen[server] {
			continue
		}
		seen[server] = true
		out = append(out, server)
	}
	slices.Sort(out)
	e.servers.mu.Lock()
	if e.servers.rooms == nil || len(e.servers.rooms) > 100000 {
		e.servers.rooms = map[string]cachedServers{}
	}
	e.servers.rooms[roomID] = cachedServers{at: now, servers: out}
	e.servers.mu.Unlock()
	return out, nil
}

// presenceServers returns the other servers sharing a joined room with userID.
func (e *EDUServer) presenceServers(ctx context.Context, userID string) ([]string, error) {
	if e.Fed.FedTopic == "" || e.Fed.RoomServer == nil {
		return nil, nil
	}
	rooms, err := e.Fed.RoomServer.QueryRoomsForUser(ctx, userID, []string{"join"})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range rooms {
		servers, err := e.joinedServers(ctx, r)
		if err != nil {
			return nil, err
		}
		for _, s := range servers {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// fedRecord is a topic 5 record under construction, with its key.
type fedRecord struct {
	key string
	out api.OutputFederationEDU
}

// newFedRecord builds a topic 5 record of an EDU with content for destinations.
func newFedRecord(key, eduType string, destinations []string, content any) (fedRecord, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return fedRecord{}, err
	}
	return fedRecord{key: key, out: api.OutputFederationEDU{Destinations: destinations, EDU: api.FederationEDU{Type: eduType, Content: raw}}}, nil
}

// stageFederation stages recs on topic 5 inside tx, each with the next topic 5 ID.
func (e *EDUServer) stageFederation(ctx context.Context, tx *sql.Tx, recs []fedRecord) error {
	var keep []fedRecord
	for _, r := range recs {
		if len(r.out.Destinations) > 0 {
			keep = append(keep, r)
		}
	}
	if len(keep) == 0 || e.Fed.FedTopic == "" {
		return nil
	}
	first, err := storage.NextFederationIDs(ctx, tx, len(keep))
	if err != nil {
		return err
	}
	msgs := make([]eventlog.Message, len(keep))
	for i := range keep {
		keep[i].out.ID = first + int64(i)
		value, err := json.Marshal(&keep[i].out)
		if err != nil {
			return err
		}
		// Topic 5: eduserver → federationsender.
		msgs[i] = eventlog.Message{Topic: e.Fed.FedTopic, Key: keep[i].key, Value: value}
	}
	return e.outbox.Stage(ctx, tx, msgs...)
}

// isLocal reports whether userID is one of this server's users.
func (e *EDUServer) isLocal(userID string) bool {
	_, server, err := matrix.ParseUserID(userID)
	return err == nil && server == e.serverName
}
