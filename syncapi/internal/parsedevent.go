package internal

import (
	"encoding/json"
	"sync"

	"github.com/axon-matrix/axon/matrix/pushrules"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// parsedEvent is what the syncapi derives from one stored event (topic 2) for every
// recipient alike: its JSON parsed once (content for the filters, the keys of the client
// format), and its client-format rendering for a recipient other than the sender's own
// device, made once per room_id and membership option with unsigned.age and
// unsigned.membership left to each response (the membership differs per recipient). It is
// kept on the Event (Event.Derived) by the shared reads, so the /sync requests one event
// woke do this work once between them; the shared reads drop their events on a
// redaction, so a redacted event is never rendered from its old form. Never modified
// once made, except through its sync.Once slots.
type parsedEvent struct {
	fields clientFields
	// client holds the renderings without (0) and with (1) room_id, plus 2 with a place
	// for unsigned.membership.
	client [4]struct {
		once sync.Once
		r    renderedEvent
	}
	// push is the event's view for push rule evaluation (unread.go), made on first use.
	push struct {
		once sync.Once
		ev   *pushrules.Event
	}
}

// parsedOf returns e's parsedEvent: the shared one when e carries Derived, else a fresh one.
func parsedOf(e *storage.Event) *parsedEvent {
	if e.Derived == nil {
		return parseEventJSON(e)
	}
	return e.Derived.Load(func() any { return parseEventJSON(e) }).(*parsedEvent)
}

func parseEventJSON(e *storage.Event) *parsedEvent {
	p := &parsedEvent{}
	_ = json.Unmarshal(e.JSON, &p.fields)
	return p
}

// rendered returns the shared client-format rendering of e (whose parsedEvent p is) for
// recipients other than the sender's device, rendering it on first use; withMembership
// leaves a place for unsigned.membership.
func (p *parsedEvent) rendered(e *storage.Event, includeRoomID, withMembership bool) *renderedEvent {
	i := 0
	if includeRoomID {
		i = 1
	}
	if withMembership {
		i += 2
	}
	c := &p.client[i]
	c.once.Do(func() {
		c.r = renderClientEvent(e, FormatOptions{IncludeRoomID: includeRoomID}, p, true, withMembership)
	})
	return &c.r
}

// withDerived gives each event of evs a Derived, so that the requests sharing evs parse
// and render each event once (sharedReads).
func withDerived(evs []storage.Event) []storage.Event {
	for i := range evs {
		if evs[i].Derived == nil {
			evs[i].Derived = &storage.Derived{}
		}
	}
	return evs
}
