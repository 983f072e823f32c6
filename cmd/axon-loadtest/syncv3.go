package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// Send mode's syncers speak either the spec's GET /sync (-sync spec, the default) or sync
// v3 on POST /sync (docs/sync-v3.md): -sync v3 follows the `room` stream of the syncer's
// room, -sync v3-list the `room_list` stream with the `last_event` field. Delivery is
// measured the same way in every mode: from the start of a send to the response that
// first carries the event.
var syncFlag = flag.String("sync", syncSpec, "send mode's sync API: spec (GET /sync), v3 (POST /sync, room stream) or v3-list (POST /sync, room_list with last_event)")

const (
	syncSpec   = "spec"
	syncV3Room = "v3"
	syncV3List = "v3-list"
)

// poller is one syncer's sync loop: poll returns the axon_loadtest_id of each timeline
// event the response carries and whether the server left events out (a limited timeline).
// The first poll (timeout 0) starts the sync; its events are history and are not counted.
type poller interface {
	poll(ctx context.Context, timeout time.Duration) (ids []string, skipped int, err error)
}

// newPoller builds the poller of the -sync mode for a client whose watched room (v3) is
// roomID.
func newPoller(mode string, c *csapi.Client, roomID string) poller {
	switch mode {
	case syncV3Room:
		return &v3Poller{c: c, first: v3Body{Room: &v3RoomReq{RoomID: roomID, TimelineLimit: 100}}}
	case syncV3List:
		return &v3Poller{c: c, first: v3Body{RoomList: &v3ListReq{Fields: []string{"last_event"}}}}
	}
	return &specPoller{c: c}
}

// watchedRooms is the one room each syncer follows in -sync v3 mode (the room stream
// names one room); it fails when a syncer is in several rooms (-sync v3-list then).
func watchedRooms(mode string, syncers int, members [][]int, roomIDs []string) ([]string, error) {
	out := make([]string, syncers)
	if mode != syncV3Room {
		return out, nil
	}
	for r, ms := range members {
		for _, u := range ms {
			if u >= syncers {
				continue
			}
			if out[u] != "" && out[u] != roomIDs[r] {
				return nil, fmt.Errorf("-sync v3 follows one room per syncer, but user %d is in several rooms (use -sync v3-list)", u)
			}
			out[u] = roomIDs[r]
		}
	}
	return out, nil
}

// specPoller is GET /sync with send mode's filter.
type specPoller struct {
	c     *csapi.Client
	since string
}

func (p *specPoller) poll(ctx context.Context, timeout time.Duration) ([]string, int, error) {
	filter := syncFilter
	if *receiptsFlag {
		filter = syncFilterReceipts
	}
	res, err := csapi.Sync[loadContent](ctx, p.c, csapi.SyncRequest{Since: p.since, Timeout: timeout, Filter: filter})
	if err != nil {
		return nil, 0, err
	}
	var ids []string
	skipped := 0
	for roomID, room := range res.Rooms.Join {
		if room.Timeline.Limited {
			skipped++
		}
		for _, ev := range room.Timeline.Events {
			if ev.Content.LoadID != "" {
				ids = append(ids, ev.Content.LoadID)
			}
		}
		if n := len(room.Timeline.Events); *receiptsFlag && p.since != "" && n > 0 {
			// As a client showing the room would: a read receipt for the newest event of
			// each response, sent while the next long-poll starts.
			go sendReceipt(ctx, p.c, roomID, room.Timeline.Events[n-1].EventID)
		}
	}
	p.since = res.NextBatch
	return ids, skipped, nil
}

// receiptsFlag makes every spec syncer send a read receipt for the newest event of each
// room in each response (the "S3 with receipts on"), and receive the room's
// receipts in its /sync.
var receiptsFlag = flag.Bool("receipts", false, "spec syncers send an m.read receipt for the newest event of each response and receive receipts")

// syncFilterReceipts is syncFilter with m.receipt ephemeral events let through.
const syncFilterReceipts = `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"state":{"lazy_load_members":true},"timeline":{"limit":500},"ephemeral":{"types":["m.receipt"]},"account_data":{"types":[]}}}`

// receiptErrors counts receipts the server refused or that failed.
var receiptErrors atomic.Int64

func sendReceipt(ctx context.Context, c *csapi.Client, roomID, eventID string) {
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/receipt/m.read/" + url.PathEscape(eventID)
	if err := c.Do(ctx, http.MethodPost, path, map[string]any{}, nil); err != nil && ctx.Err() == nil {
		receiptErrors.Add(1)
	}
}

// The parts of a sync v3 request and response the poller uses.
type v3Body struct {
	Room     *v3RoomReq `json:"room,omitempty"`
	RoomList *v3ListReq `json:"room_list,omitempty"`
}

type v3RoomReq struct {
	RoomID        string `json:"room_id"`
	TimelineLimit int    `json:"timeline_limit"`
}

type v3ListReq struct {
	Fields []string `json:"fields"`
}

type v3Resp struct {
	Next string `json:"next"`
	Room *struct {
		Timeline []csapi.Event[loadContent] `json:"timeline"`
		Limited  bool                       `json:"limited"`
	} `json:"room"`
	RoomList *struct {
		Rooms []struct {
			LastEvent *csapi.Event[loadContent] `json:"last_event"`
		} `json:"rooms"`
	} `json:"room_list"`
}

// v3Poller is one sync v3 session: the first request (no since) sends the stream
// parameters, later ones send `{}` (the parameters are sticky) with the previous `next`.
// A session the server no longer knows (M_UNKNOWN_SYNC_SESSION) is started again, and the
// error counted.
type v3Poller struct {
	c     *csapi.Client
	first v3Body
	since string
}

func (p *v3Poller) poll(ctx context.Context, timeout time.Duration) ([]string, int, error) {
	q := url.Values{}
	q.Set("timeout", fmt.Sprint(timeout.Milliseconds()))
	var body any = struct{}{}
	if p.since == "" {
		body = p.first
	} else {
		q.Set("since", p.since)
	}
	var res v3Resp
	if err := p.c.Do(ctx, http.MethodPost, "/_matrix/client/v3/sync?"+q.Encode(), body, &res); err != nil {
		var e *csapi.Error
		if errors.As(err, &e) && e.ErrCode == "M_UNKNOWN_SYNC_SESSION" {
			p.since = ""
		}
		return nil, 0, err
	}
	var ids []string
	skipped := 0
	if r := res.Room; r != nil {
		if r.Limited {
			skipped++
		}
		for _, ev := range r.Timeline {
			if ev.Content.LoadID != "" {
				ids = append(ids, ev.Content.LoadID)
			}
		}
	}
	if l := res.RoomList; l != nil {
		for _, r := range l.Rooms {
			if r.LastEvent != nil && r.LastEvent.Content.LoadID != "" {
				ids = append(ids, r.LastEvent.Content.LoadID)
			}
		}
	}
	if res.Next != "" {
		p.since = res.Next
	}
	return ids, skipped, nil
}
