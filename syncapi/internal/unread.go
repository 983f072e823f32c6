package internal

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/pushrules"
	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// Unread notification counts (the spec's unread_notifications of a joined room in /sync;
// sync v3's notification_count and highlight_count): the events after the user's read
// position in the room whose push rules (pushrules.Compiled, from the user's m.push_rules
// account data — topic 1 — or the server defaults) say notify, and of those the ones that
// highlight. As Synapse counts: the read position is the event of the user's newest m.read
// or m.read.private receipt (topic 3; unthreaded or main-timeline), and an event of the
// user's own counts as read up to it; the user's own events never count, nor those of
// users they ignore. The room's member count, power levels and the user's display name
// are the room's at the position counted to.
//
// Counting is incremental: per (user, room) the counts up to a position are kept in
// memory and advanced by evaluating only the events after it — the same shared read of a
// room's new events the woken /syncs make for their timelines (sharedreads.go), each
// event flattened once for every user (parsedevent.go) — and computed afresh from
// storage when the receipt moved, the rules changed or nothing is held, scanning at most
// maxUnreadScan events back from the newest (a room with more unread events than that
// shows that many).

// maxUnreadScan bounds the events one count reads back from the newest.
const maxUnreadScan = 1000

// Bounds of the in-memory caches: past them a cache starts afresh.
const (
	maxUnreadEntries = 200000
	maxPushRulesKept = 100000
	maxPushRoomsKept = 4096
)

// UnreadNotifications is a joined room's unread_notifications.
type UnreadNotifications struct {
	HighlightCount    int `json:"highlight_count"`
	NotificationCount int `json:"notification_count"`
}

type unreadKey struct{ user, room string }

// unreadEntry: the counts of a room's events up to upTo for a user, from their read
// position (receiptPos, or their own newer event) on; receiptEDU is the room's newest
// receipt position (topic 3) when receiptPos was read.
type unreadEntry struct {
	upTo, receiptPos, receiptEDU int64
	rules                        *pushrules.Compiled
	ignored                      uintptr // the ignore list counted with (ignoreID)
	counts                       UnreadNotifications
}

// ignoreID identifies an ignore list: the Notifier replaces a user's list on every change
// and never modifies one (ignore.go), so its map's identity is its version; 0 for none.
func ignoreID(l IgnoreList) uintptr {
	if len(l) == 0 {
		return 0
	}
	return reflect.ValueOf(l).Pointer()
}

// userRules is a user's compiled rules, current up to account data position validAt.
type userRules struct {
	compiled *pushrules.Compiled
	validAt  int64
}

// pushRoom is what the rules read about a room at position at, shared by its members.
type pushRoom struct {
	at          int64
	memberCount int
	pl          *auth.PowerLevels // nil: no power levels or create event known
	mu          sync.Mutex
	names       map[string]string // user → display name, read on first use
}

// unreadState is the Syncer's memory of counts, rules and rooms.
type unreadState struct {
	mu      sync.Mutex
	entries map[unreadKey]unreadEntry
	rules   map[string]userRules
	rooms   map[string]*pushRoom
}

// receiptPositions returns the position of each room's newest receipt (topic 3) as the
// Notifier holds it (edustate.go).
func (n *Notifier) receiptPositions(rooms []string) map[string]int64 {
	e := &n.edu
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int64, len(rooms))
	for _, r := range rooms {
		out[r] = e.receiptPos[r]
	}
	return out
}

// pushRulesOf returns userID's compiled rules current at account data position upTo.
// known are the user's account data items of (knownFrom, upTo] already read (a /sync's;
// knownFrom < 0: none), which spare a query when the held rules are current at knownFrom.
func (s *Syncer) pushRulesOf(ctx context.Context, userID string, upTo int64, known []storage.AccountData, knownFrom int64) (*pushrules.Compiled, error) {
	u := &s.unread
	u.mu.Lock()
	held, ok := u.rules[userID]
	u.mu.Unlock()
	if ok && held.validAt >= upTo {
		return held.compiled, nil
	}
	var content []byte
	found := false
	switch {
	case ok && knownFrom >= 0 && knownFrom <= held.validAt:
		content, found = pushRulesIn(known)
	case !ok && knownFrom == 0:
		// An initial /sync read all of the user's account data.
		content, found = pushRulesIn(known)
		if !found {
			content, found = nil, true // the defaults
		}
	case ok:
		items, err := s.db.AccountDataBetween(ctx, userID, held.validAt, upTo)
		if err != nil {
			return nil, err
		}
		content, found = pushRulesIn(items)
	default:
		all, err := s.db.AccountDataOfType(ctx, userID, "m.push_rules")
		if err != nil {
			return nil, err
		}
		content, found = all[""]
		if !found {
			content, found = nil, true // the defaults
		}
	}
	compiled := held.compiled
	if found {
		compiled = pushrules.CompileAccountData(userID, content)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if cur, ok := u.rules[userID]; ok && cur.validAt >= upTo {
		return cur.compiled, nil // another request got further meanwhile
	}
	if u.rules == nil || len(u.rules) >= maxPushRulesKept {
		u.rules = map[string]userRules{}
	}
	u.rules[userID] = userRules{compiled: compiled, validAt: upTo}
	return compiled, nil
}

// pushRulesIn returns the newest global m.push_rules among items.
func pushRulesIn(items []storage.AccountData) ([]byte, bool) {
	var best *storage.AccountData
	for i := range items {
		if a := &items[i]; a.RoomID == "" && a.Type == "m.push_rules" && (best == nil || a.StreamPos > best.StreamPos) {
			best = a
		}
	}
	if best == nil {
		return nil, false
	}
	return best.Content, true
}

// unreadCounts returns the counts of userID in each of rooms (joined) up to room position
// upTo; rules are the user's compiled rules.
func (s *Syncer) unreadCounts(ctx context.Context, userID string, ignored IgnoreList, rooms []string, upTo int64, rules *pushrules.Compiled) (map[string]UnreadNotifications, error) {
	out := make(map[string]UnreadNotifications, len(rooms))
	if len(rooms) == 0 {
		return out, nil
	}
	u := &s.unread
	receiptEDU := s.notifier.receiptPositions(rooms)
	held := make(map[string]unreadEntry, len(rooms))
	var reread []string
	u.mu.Lock()
	for _, r := range rooms {
		e, ok := u.entries[unreadKey{userID, r}]
		if ok {
			held[r] = e
		}
		if !ok || s.NoShortcuts || receiptEDU[r] > e.receiptEDU {
			reread = append(reread, r)
		}
	}
	u.mu.Unlock()
	receipts, pending := map[string]int64{}, map[string]bool{}
	if len(reread) > 0 {
		var err error
		if receipts, pending, err = s.db.ReadPositions(ctx, userID, reread); err != nil {
			return nil, err
		}
	}
	rereadSet := make(map[string]bool, len(reread))
	for _, r := range reread {
		rereadSet[r] = true
	}
	ign := ignoreID(ignored)
	for _, r := range rooms {
		e, ok := held[r]
		receiptPos := e.receiptPos
		if rereadSet[r] {
			receiptPos = receipts[r]
		}
		var next unreadEntry
		var err error
		if ok && !s.NoShortcuts && e.rules == rules && e.ignored == ign && e.receiptPos == receiptPos && e.upTo <= upTo {
			// Advance: only the events after what is counted.
			next, err = s.countUnread(ctx, userID, ignored, r, e, upTo, rules)
		} else {
			next, err = s.countUnread(ctx, userID, ignored, r,
				unreadEntry{upTo: receiptPos, receiptPos: receiptPos, rules: rules, ignored: ign}, upTo, rules)
		}
		if err != nil {
			return nil, err
		}
		next.receiptEDU = receiptEDU[r]
		switch {
		case pending[r]:
			// A receipt names an event not here yet: read again next time.
			next.receiptEDU = -1
		case !rereadSet[r]:
			next.receiptEDU = e.receiptEDU
		}
		out[r] = next.counts
		u.mu.Lock()
		if cur, ok := u.entries[unreadKey{userID, r}]; !ok || cur.upTo <= next.upTo {
			if u.entries == nil || len(u.entries) >= maxUnreadEntries {
				u.entries = map[unreadKey]unreadEntry{}
			}
			u.entries[unreadKey{userID, r}] = next
		}
		u.mu.Unlock()
	}
	return out, nil
}

// countUnread advances e (counts of (e.from, e.upTo]) to upTo: the events of (e.upTo,
// upTo], newest first, at most maxUnreadScan of them, stopping at the user's own newest
// event (read up to there: the counts start again after it).
func (s *Syncer) countUnread(ctx context.Context, userID string, ignored IgnoreList, roomID string, e unreadEntry, upTo int64, rules *pushrules.Compiled) (unreadEntry, error) {
	if upTo <= e.upTo {
		return e, nil
	}
	var add UnreadNotifications
	ownAt := int64(0)
	var room *pushRoom
	var user pushrules.User
	cur, scanned := upTo, 0
scan:
	for cur > e.upTo && scanned < maxUnreadScan {
		c := cur
		batch, err := s.shared(ctx, readKey{kind: readTimeline, room: roomID, from: e.upTo, to: c}, func() ([]storage.Event, error) {
			return s.db.RoomEvents(ctx, roomID, e.upTo, c, true, scanBatch)
		})
		if err != nil {
			return e, err
		}
		for i := range batch {
			ev := &batch[i]
			cur = ev.StreamPos - 1
			scanned++
			if ev.Sender == userID {
				ownAt = ev.StreamPos
				break scan
			}
			if ignored.hides(ev) {
				continue
			}
			if room == nil {
				if room, err = s.pushRoomAt(ctx, roomID, upTo); err != nil {
					return e, err
				}
				user = pushrules.NewUser(userID, room.displayName(ctx, s, roomID, userID))
			}
			pr := pushrules.Room{MemberCount: room.memberCount}
			if room.pl != nil {
				pr.SenderPower = room.pl.UserPowerLevel(ev.Sender)
				pr.NotificationLevels = room.pl.Notifications
			}
			res := rules.Evaluate(pushViewOf(ev), &pr, &user)
			if res.Notify {
				add.NotificationCount++
				if res.Highlight {
					add.HighlightCount++
				}
			}
			if scanned >= maxUnreadScan {
				break scan
			}
		}
		if len(batch) < scanBatch {
			break
		}
	}
	next := e
	next.upTo = upTo
	switch {
	case ownAt > 0:
		next.counts = add // read up to the user's own event
	case scanned >= maxUnreadScan && cur > e.upTo:
		next.counts = add // cut short: the newest maxUnreadScan events are all that is counted
	default:
		next.counts.NotificationCount += add.NotificationCount
		next.counts.HighlightCount += add.HighlightCount
	}
	return next, nil
}

// pushViewOf returns the event's push rule view, shared between users when the event
// carries Derived (parsedevent.go).
func pushViewOf(e *storage.Event) *pushrules.Event {
	if e.Derived == nil {
		return pushrules.NewEvent(e.JSON)
	}
	p := parsedOf(e)
	p.push.once.Do(func() { p.push.ev = pushrules.NewEvent(e.JSON) })
	return p.push.ev
}

// pushRoomAt returns what the rules read about the room at position at: held while the
// Notifier shows no state change between the position it was read at and at.
func (s *Syncer) pushRoomAt(ctx context.Context, roomID string, at int64) (*pushRoom, error) {
	u := &s.unread
	u.mu.Lock()
	held := u.rooms[roomID]
	u.mu.Unlock()
	if held != nil && !s.NoShortcuts && s.notifier.RoomStateQuiet(roomID, min(held.at, at), max(held.at, at)) {
		return held, nil
	}
	joined, _, err := s.db.MemberCounts(ctx, roomID, at)
	if err != nil {
		return nil, err
	}
	st, err := s.db.StateAt(ctx, roomID, at, "m.room.create", "m.room.power_levels")
	if err != nil {
		return nil, err
	}
	room := &pushRoom{at: at, memberCount: joined, names: map[string]string{}}
	room.pl = powerLevelsOf(st)
	u.mu.Lock()
	if u.rooms == nil || len(u.rooms) >= maxPushRoomsKept {
		u.rooms = map[string]*pushRoom{}
	}
	if cur := u.rooms[roomID]; cur == nil || cur.at <= at {
		u.rooms[roomID] = room
	}
	u.mu.Unlock()
	return room, nil
}

// powerLevelsOf parses the power levels from a room's create and power levels events
// (nil when neither is usable: everyone is then at level 0).
func powerLevelsOf(st []storage.Event) *auth.PowerLevels {
	var createJSON, plJSON []byte
	for i := range st {
		switch st[i].Type {
		case "m.room.create":
			createJSON = st[i].JSON
		case "m.room.power_levels":
			plJSON = st[i].JSON
		}
	}
	version := matrix.RoomVersionID("1")
	if createJSON != nil {
		var c struct {
			Content struct {
				RoomVersion string `json:"room_version"`
			} `json:"content"`
		}
		if json.Unmarshal(createJSON, &c) == nil && c.Content.RoomVersion != "" {
			version = matrix.RoomVersionID(c.Content.RoomVersion)
		}
	}
	var create, pl matrix.PDU
	if createJSON != nil {
		if ev, err := event.NewEventFromTrustedJSONWithEventID("$create", createJSON, version); err == nil {
			create = ev
		}
	}
	if plJSON != nil {
		if ev, err := event.NewEventFromTrustedJSONWithEventID("$power_levels", plJSON, version); err == nil {
			pl = ev
		}
	}
	if create == nil && pl == nil {
		return nil
	}
	levels, err := auth.NewPowerLevels(create, pl)
	if err != nil {
		return nil
	}
	return levels
}

// displayName returns userID's display name in the room at p.at ("" for none), read once.
func (p *pushRoom) displayName(ctx context.Context, s *Syncer, roomID, userID string) string {
	p.mu.Lock()
	name, ok := p.names[userID]
	p.mu.Unlock()
	if ok {
		return name
	}
	if m, err := s.db.StateEventAt(ctx, roomID, "m.room.member", userID, p.at); err == nil && m != nil {
		name = contentField(m, "displayname")
	}
	p.mu.Lock()
	p.names[userID] = name
	p.mu.Unlock()
	return name
}

// addUnreadCounts sets unread_notifications on every joined room of resp, counted up to
// pos; ads are the user's account data items of (sinceAD, pos.AccountData] the response
// read.
func (s *Syncer) addUnreadCounts(ctx context.Context, req *SyncRequest, resp *SyncResponse, pos types.StreamToken, ads []storage.AccountData, sinceAD int64) error {
	if s.NoUnreadCounts || len(resp.Rooms.Join) == 0 {
		return nil
	}
	rules, err := s.pushRulesOf(ctx, req.UserID, pos.AccountData, ads, sinceAD)
	if err != nil {
		return err
	}
	rooms := make([]string, 0, len(resp.Rooms.Join))
	for r := range resp.Rooms.Join {
		rooms = append(rooms, r)
	}
	counts, err := s.unreadCounts(ctx, req.UserID, req.ignored, rooms, pos.Room, rules)
	if err != nil {
		return err
	}
	for r, jr := range resp.Rooms.Join {
		c := counts[r]
		jr.UnreadNotifications = &c
	}
	return nil
}
