package internal

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
)

// KeyCounts is the part of the keyserver the senders ask (arrow 24: appservice →
// keyserver, numbered as docs/wiring.md, "Arrows from 14 on"): the devices with keys of
// some users, and each device's one-time key counts and unused fallback key types.
// keyserver/api.KeyServerAPI and its inthttp client implement it.
type KeyCounts interface {
	QueryKeys(ctx context.Context, req *keyapi.QueryKeysRequest) (*keyapi.QueryKeysResponse, error)
	QueryKeyCounts(ctx context.Context, req *keyapi.QueryKeyCountsRequest) (*keyapi.QueryKeyCountsResponse, error)
}

// maxCountUsers bounds the users whose devices' counts one transaction looks up.
const maxCountUsers = 100

// defaultKeyCountsTimeout bounds the keyserver calls of one transaction: a keyserver that
// does not answer holds the events up this long at most (not a call timeout per device).
const defaultKeyCountsTimeout = 5 * time.Second

// deviceCounts is one device's counts as a transaction carries them.
type deviceCounts struct {
	otk      map[string]int
	fallback []string
}

// same says whether two answers are equal (fallback types in the keyserver's order).
func (d deviceCounts) same(o deviceCounts) bool {
	if len(d.otk) != len(o.otk) || !slices.Equal(d.fallback, o.fallback) {
		return false
	}
	for k, v := range d.otk {
		if w, ok := o.otk[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// sentCounts remembers, per service, the counts each device last had in a transaction
// the service accepted, so the next transactions carry only devices whose counts changed
// (after a restart every device's counts go out once).
type sentCounts struct {
	mu   sync.Mutex
	byAS map[string]map[string]deviceCounts // service ID → user ID + "|" + device ID → counts
}

func (s *sentCounts) get(asID, key string) (deviceCounts, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byAS[asID][key]
	return d, ok
}

func (s *sentCounts) record(asID string, counts map[string]deviceCounts) {
	if len(counts) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byAS == nil {
		s.byAS = map[string]map[string]deviceCounts{}
	}
	m := s.byAS[asID]
	if m == nil || len(m) > 100000 { // bounded: starting over only sends counts again
		m = map[string]deviceCounts{}
		s.byAS[asID] = m
	}
	for k, v := range counts {
		m[k] = v
	}
}

// countUsers is the users whose devices' counts a transaction of rows to reg carries
// (MSC3202): the service's sender, and the local users of its namespaces that the
// transaction names — senders and membership targets of its events and recipients of its
// to-device messages. (Synapse takes all of the service's users joined to the rooms of
// the transaction's events and ephemeral data, plus the to-device recipients.)
func countUsers(reg *api.Registration, rows []storage.Row) []string {
	sender := reg.SenderUserID()
	server := sender[strings.IndexByte(sender, ':')+1:]
	users := []string{sender}
	add := func(u string) {
		if u != "" && len(users) < maxCountUsers && strings.HasSuffix(u, ":"+server) && reg.OwnsUser(u) && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	for _, r := range rows {
		switch r.Kind {
		case storage.KindEvent, "":
			var ev struct {
				Type     string  `json:"type"`
				Sender   string  `json:"sender"`
				StateKey *string `json:"state_key"`
			}
			if json.Unmarshal(r.JSON, &ev) != nil {
				continue
			}
			add(ev.Sender)
			if ev.Type == "m.room.member" && ev.StateKey != nil {
				add(*ev.StateKey)
			}
		case storage.KindToDevice:
			var m struct {
				To string `json:"to_user_id"`
			}
			if json.Unmarshal(r.JSON, &m) == nil {
				add(m.To)
			}
		}
	}
	return users
}

// addKeyCounts fills txn's MSC3202 one-time key counts and unused fallback key types for
// the devices (with keys) of countUsers whose counts differ from those last sent to reg,
// and returns what it put in, for sentCounts once the service accepted it. Without a
// keyserver, or when it fails or does not answer within keyCountsTimeout, the transaction
// goes without them, or without the rest (the events must not wait for the counts).
func (q *Queues) addKeyCounts(ctx context.Context, reg *api.Registration, rows []storage.Row, txn *Transaction) map[string]deviceCounts {
	if q.keys == nil || !reg.MSC3202 {
		return nil
	}
	timeout := q.keyCountsTimeout
	if timeout <= 0 {
		timeout = defaultKeyCountsTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	users := countUsers(reg, rows)
	req := &keyapi.QueryKeysRequest{Requester: reg.SenderUserID(), DeviceKeys: map[string][]string{}}
	for _, u := range users {
		req.DeviceKeys[u] = nil
	}
	res, err := q.keys.QueryKeys(ctx, req)
	if err != nil {
		q.log.WithError(err).WithField("appservice", reg.ID).Warn("device keys unavailable: transaction without key counts")
		return nil
	}
	out := map[string]deviceCounts{}
	for _, u := range users {
		devices := make([]string, 0, len(res.DeviceKeys[u]))
		for d := range res.DeviceKeys[u] {
			devices = append(devices, d)
		}
		slices.Sort(devices)
		for _, d := range devices {
			if ctx.Err() != nil {
				break
			}
			c, err := q.keys.QueryKeyCounts(ctx, &keyapi.QueryKeyCountsRequest{UserID: u, DeviceID: d})
			if err != nil {
				q.log.WithError(err).WithField("appservice", reg.ID).Warn("key counts unavailable: transaction without some")
				continue
			}
			now := deviceCounts{otk: c.OneTimeKeyCounts, fallback: c.UnusedFallbackKeyTypes}
			if now.otk == nil {
				now.otk = map[string]int{}
			}
			if now.fallback == nil {
				now.fallback = []string{}
			}
			key := u + "|" + d
			if last, ok := q.sent.get(reg.ID, key); ok && last.same(now) {
				continue
			}
			out[key] = now
			if txn.OTKCounts == nil {
				txn.OTKCounts = map[string]map[string]map[string]int{}
				txn.FallbackKeyTypes = map[string]map[string][]string{}
			}
			if txn.OTKCounts[u] == nil {
				txn.OTKCounts[u] = map[string]map[string]int{}
				txn.FallbackKeyTypes[u] = map[string][]string{}
			}
			txn.OTKCounts[u][d] = now.otk
			txn.FallbackKeyTypes[u][d] = now.fallback
		}
	}
	txn.OTKCountsOld = txn.OTKCounts
	return out
}
