package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/axon-matrix/axon/internal/csapi"
)

// Steps of the Axon ↔ Synapse rounds (synapse.go) for history and redactions (issue 12,
// item 7): the owner's server holds history from before the joiner's server was in the
// room, which the joiner's server must fetch with /backfill when the joiner pages back
// (on Synapse: Synapse's /messages backfilling through Axon's /backfill; on Axon: arrow 2
// → arrow 17 → Synapse's /backfill); and redactions sent each way are applied by the
// other side.

// synapseHistoryCount is how many messages the owner sends before the joiner's server joins.
const synapseHistoryCount = 5

// synapseHistoryBefore: the owner says synapseHistoryCount things before the joiner joins.
func (r *run) synapseHistoryBefore(ctx context.Context, tag string, owner *csapi.Client, roomID string) error {
	r.begin(fmt.Sprintf("[%s] %s sends %d messages before the other server is in the room", tag, owner.UserID, synapseHistoryCount))
	for i := 1; i <= synapseHistoryCount; i++ {
		if _, err := owner.Send(ctx, roomID, fmt.Sprintf("h%d%s", i, tag), map[string]any{"msgtype": "m.text", "body": historyBody(tag, i)}); err != nil {
			return err
		}
	}
	return nil
}

func historyBody(tag string, i int) string { return fmt.Sprintf("history %d %s", i, tag) }

// synapseBackfill: the joiner pages back with /messages (dir=b, 4 at a time) and must see
// the owner's early messages, newest first, with nothing missing.
func (r *run) synapseBackfill(ctx context.Context, tag string, joiner *csapi.Client, roomID string) error {
	r.begin(fmt.Sprintf("[%s] %s pages back with /messages past the join: the history comes over /backfill", tag, joiner.UserID))
	var want []string
	for i := synapseHistoryCount; i >= 1; i-- {
		want = append(want, historyBody(tag, i))
	}
	var got []string
	from := ""
	for page := 0; page < 30 && len(got) < len(want); page++ {
		var res struct {
			Chunk []syncEvent `json:"chunk"`
			End   string      `json:"end"`
		}
		path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/messages?dir=b&limit=4"
		if from != "" {
			path += "&from=" + url.QueryEscape(from)
		}
		if err := joiner.Do(ctx, http.MethodGet, path, nil, &res); err != nil {
			return err
		}
		for _, e := range res.Chunk {
			if e.Type == "m.room.message" && strings.HasPrefix(e.Content.Body, "history ") {
				got = append(got, e.Content.Body)
			}
		}
		if res.End == "" {
			break
		}
		from = res.End
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Errorf("%s paged back to %q, want %q", joiner.UserID, got, want)
	}
	return nil
}

// synapseRedactions: each side redacts its own message; the other side serves it redacted
// (no content, unsigned.redacted_because).
func (r *run) synapseRedactions(ctx context.Context, tag string, owner, joiner *csapi.Client, roomID string) error {
	for i, w := range []struct{ who, reader *csapi.Client }{{owner, joiner}, {joiner, owner}} {
		r.begin(fmt.Sprintf("[%s] %s redacts a message of theirs; %s's server serves it redacted", tag, w.who.UserID, w.reader.UserID))
		body := fmt.Sprintf("redact me %d %s", i, tag)
		eventID, err := w.who.Send(ctx, roomID, fmt.Sprintf("rd%d%s", i, tag), map[string]any{"msgtype": "m.text", "body": body})
		if err != nil {
			return err
		}
		if err := r.waitSync(ctx, w.reader, roomID, func(v *roomView) bool { return v.bodies[body] }); err != nil {
			return err
		}
		if err := w.who.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/redact/"+url.PathEscape(eventID)+
			"/rd"+fmt.Sprint(i), map[string]any{"reason": "test"}, nil); err != nil {
			return err
		}
		reader := w.reader
		if err := r.eventually(r.timeout, "the redacted event on "+reader.UserID+"'s server", func() (bool, string, error) {
			var ev struct {
				Content  map[string]any `json:"content"`
				Unsigned map[string]any `json:"unsigned"`
			}
			if err := reader.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/event/"+url.PathEscape(eventID), nil, &ev); err != nil {
				return false, "", err
			}
			return len(ev.Content) == 0 && ev.Unsigned["redacted_because"] != nil, fmt.Sprintf("content %v, unsigned %v", ev.Content, ev.Unsigned), nil
		}); err != nil {
			return err
		}
	}
	return nil
}
