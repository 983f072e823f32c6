package internal

import (
	"context"
	"encoding/json"
	"math"
	"sync"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// eduState is what topic 3 (eduserver → syncapi) made known, kept in memory so that a
// /sync of a user with nothing new on the edu stream costs no query: each room's typers
// (never stored), the position of each room's newest receipt, and the span of positions
// of each device's undelivered to-device messages. The topic 3 consumer updates it before
// it tells the Notifier the new position, so a /sync that sees the position also sees the
// state. Receipt positions and to-device spans are loaded from the database at start.
type eduState struct {
	mu         sync.Mutex
	typing     map[string]roomTyping       // room → typers
	receiptPos map[string]int64            // room → position of its newest receipt
	toDevice   map[string]map[string]*span // user → device → undelivered positions
}

// Typer is a user typing in a room until ExpiresMS (ms since the epoch).
type Typer struct {
	UserID    string
	ExpiresMS int64
}

// roomTyping is a room's typers as of the topic 3 position pos.
type roomTyping struct {
	pos    int64
	typers []Typer
	// ev is the room's m.typing event as rendered for a clock in [evFrom, evUntil) (the
	// typers not expired then; evUntil is the first expiry among them), made once for all
	// the /syncs a change wakes (arrow topic 3) instead of once per syncer; nil until asked.
	ev              json.RawMessage
	evFrom, evUntil int64
	evEmpty         bool // ev names no typer
}

// span bounds the positions of a device's undelivered messages: none below min (a bound,
// possibly low) and max the newest.
type span struct{ min, max int64 }

func newEDUState() eduState {
	return eduState{typing: map[string]roomTyping{}, receiptPos: map[string]int64{}, toDevice: map[string]map[string]*span{}}
}

// LoadEDUState fills the Notifier's record of receipts and undelivered to-device messages
// from the database (at start, before the consumers run).
func LoadEDUState(ctx context.Context, db *storage.Database, n *Notifier) error {
	rp, err := db.ReceiptRoomPositions(ctx)
	if err != nil {
		return err
	}
	pending, err := db.PendingToDevices(ctx)
	if err != nil {
		return err
	}
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	for room, pos := range rp {
		e.receiptPos[room] = max(e.receiptPos[room], pos)
	}
	for _, p := range pending {
		e.addToDevice(p.UserID, p.DeviceID, p.Min, p.Max)
	}
	return nil
}

// SetTyping records a room's typers as of topic 3 position pos; an older record than the
// one held (a replay) changes nothing.
func (n *Notifier) SetTyping(roomID string, pos int64, typers []Typer) {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.typing[roomID]; ok && old.pos >= pos {
		return
	}
	e.typing[roomID] = roomTyping{pos: pos, typers: typers}
}

// typingIn returns the room's typers not expired at nowMS, and whether the set changed
// after position since (always true for since < 0, an initial sync).
func (n *Notifier) typingIn(roomID string, since, nowMS int64) (users []string, changed bool) {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	rt, ok := e.typing[roomID]
	if !ok {
		return nil, false
	}
	for _, t := range rt.typers {
		if t.ExpiresMS > nowMS {
			users = append(users, t.UserID)
		}
	}
	return users, since < 0 || rt.pos > since
}

// typingEvent returns the room's m.typing event (the typers not expired at nowMS), whether
// it names nobody, and whether the set changed after position since (always true for
// since < 0, an initial sync). ok is false when the room never had a typing record. The
// returned bytes are shared between requests and must not be modified.
func (n *Notifier) typingEvent(roomID string, since, nowMS int64) (ev json.RawMessage, empty, changed, ok bool) {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	rt, ok := e.typing[roomID]
	if !ok {
		return nil, false, false, false
	}
	changed = since < 0 || rt.pos > since
	if rt.ev == nil || nowMS < rt.evFrom || nowMS >= rt.evUntil {
		users := []string{}
		until := int64(math.MaxInt64)
		for _, t := range rt.typers {
			if t.ExpiresMS > nowMS {
				users = append(users, t.UserID)
				until = min(until, t.ExpiresMS)
			}
		}
		b, err := json.Marshal(map[string]any{"type": "m.typing", "content": map[string]any{"user_ids": users}})
		if err != nil {
			return nil, false, false, false // cannot happen: strings only
		}
		rt.ev, rt.evFrom, rt.evUntil, rt.evEmpty = b, nowMS, until, len(users) == 0
		e.typing[roomID] = rt
	}
	return rt.ev, rt.evEmpty, changed, true
}

// ReceiptStored records that a receipt of roomID was stored at pos.
func (n *Notifier) ReceiptStored(roomID string, pos int64) {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	e.receiptPos[roomID] = max(e.receiptPos[roomID], pos)
}

// roomsWithReceipts returns those of rooms with a receipt stored after position since.
func (n *Notifier) roomsWithReceipts(rooms []string, since int64) []string {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range rooms {
		if e.receiptPos[r] > since {
			out = append(out, r)
		}
	}
	return out
}

// ToDeviceStored records that a message for the device was stored at pos.
func (n *Notifier) ToDeviceStored(userID, deviceID string, pos int64) {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addToDevice(userID, deviceID, pos, pos)
}

func (e *eduState) addToDevice(userID, deviceID string, lo, hi int64) {
	devs := e.toDevice[userID]
	if devs == nil {
		devs = map[string]*span{}
		e.toDevice[userID] = devs
	}
	if s := devs[deviceID]; s != nil {
		s.min, s.max = min(s.min, lo), max(s.max, hi)
		return
	}
	devs[deviceID] = &span{min: lo, max: hi}
}

// toDevicePending returns the span of the device's undelivered messages, if any.
func (n *Notifier) toDevicePending(userID, deviceID string) (span, bool) {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.toDevice[userID][deviceID]; s != nil {
		return *s, true
	}
	return span{}, false
}

// toDeviceAcked records that the device's messages up to upTo were deleted.
func (n *Notifier) toDeviceAcked(userID, deviceID string, upTo int64) {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	devs := e.toDevice[userID]
	s := devs[deviceID]
	if s == nil {
		return
	}
	if s.max <= upTo {
		delete(devs, deviceID)
		if len(devs) == 0 {
			delete(e.toDevice, userID)
		}
		return
	}
	s.min = max(s.min, upTo+1)
}

// OnEDU is called by the topic 3 consumer after the edu watermark moved to pos: it wakes
// the listeners of rooms (typing, receipts) and of users (to-device messages).
func (n *Notifier) OnEDU(pos int64, rooms, users []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if pos > n.pos.EDU {
		n.pos.EDU = pos
		n.moved()
	}
	for _, r := range rooms {
		wakeAll(n.byRoom[r])
	}
	for _, u := range users {
		wakeAll(n.byUser[u])
	}
}

// TypingRoomsBetween returns the rooms whose typers changed at a position in (after, upTo]
// (whom to wake when a gap before them closed).
func (n *Notifier) TypingRoomsBetween(after, upTo int64) []string {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for r, rt := range e.typing {
		if rt.pos > after && rt.pos <= upTo {
			out = append(out, r)
		}
	}
	return out
}
