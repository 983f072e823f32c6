// Command ryw is the polylith's read-your-writes check (tests/e2e/polylith.sh, issue #9):
// through client-api-proxy, which spreads the room reads and /sync over the sync
// instances, it runs the sequences a client does right after its own writes and counts
// every read that did not reflect the write:
//
//   - create a room, then at once GET /rooms/{roomId}/messages (the room must be there);
//   - invite a user, the user joins, then the inviter's GET /rooms/{roomId}/joined_members
//     (the joiner must be listed);
//   - send and redact a message, then GET /rooms/{roomId}/event/{eventId} (redacted).
//
// The script starts one sync instance with the AXON_TEST_SYNC_ROOM_EVENT_DELAY test hook,
// so that instance lags for certain. It speaks the public client-server API only
// (internal/csapi). Exit status 0 only when every read reflected its write.
//
//	ryw -hs http://127.0.0.1:8008 -rounds 30
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

func main() {
	hs := flag.String("hs", "http://127.0.0.1:8008", "client-api-proxy's base URL")
	rounds := flag.Int("rounds", 30, "how often each sequence runs")
	parallel := flag.Int("parallel", 5, "sequences running at once")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stale, err := run(ctx, *hs, *rounds, *parallel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ryw:", err)
		os.Exit(1)
	}
	if len(stale) > 0 {
		fmt.Printf("ryw: FAILED: %d stale reads; first: %s\n", len(stale), stale[0])
		os.Exit(1)
	}
	fmt.Printf("ryw: 0 stale reads in %d rounds of each of %d sequences\n", *rounds, len(sequences))
}

// sequence runs once as inviter (alice) and invitee (bob) and returns "" when the read
// reflected the write, else what it saw. An error is a failed write (not a stale read).
type sequence struct {
	name string
	run  func(ctx context.Context, alice, bob *csapi.Client, round int) (string, error)
}

var sequences = []sequence{
	{"create room then /messages", func(ctx context.Context, alice, _ *csapi.Client, _ int) (string, error) {
		room, err := alice.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "private_chat"})
		if err != nil {
			return "", err
		}
		var res struct {
			Chunk []struct {
				Type string `json:"type"`
			} `json:"chunk"`
		}
		if err := alice.Do(ctx, http.MethodGet, roomPath(room, "messages?dir=b&limit=20"), nil, &res); err != nil {
			return "/messages right after createRoom: " + err.Error(), nil
		}
		for _, e := range res.Chunk {
			if e.Type == "m.room.create" {
				return "", nil
			}
		}
		return fmt.Sprintf("/messages right after createRoom has no create event (%d events)", len(res.Chunk)), nil
	}},
	{"invite, join, then /joined_members", func(ctx context.Context, alice, bob *csapi.Client, _ int) (string, error) {
		room, err := alice.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "private_chat"})
		if err != nil {
			return "", err
		}
		if err := alice.Do(ctx, http.MethodPost, roomPath(room, "invite"), map[string]any{"user_id": bob.UserID}, nil); err != nil {
			return "", err
		}
		if err := bob.Join(ctx, room); err != nil {
			return "", err
		}
		var res struct {
			Joined map[string]any `json:"joined"`
		}
		if err := alice.Do(ctx, http.MethodGet, roomPath(room, "joined_members"), nil, &res); err != nil {
			return "/joined_members right after the join: " + err.Error(), nil
		}
		if _, ok := res.Joined[bob.UserID]; !ok {
			return fmt.Sprintf("/joined_members right after the join lacks the joiner: %v", res.Joined), nil
		}
		return "", nil
	}},
	{"redact then /event", func(ctx context.Context, alice, _ *csapi.Client, round int) (string, error) {
		room, err := alice.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "private_chat"})
		if err != nil {
			return "", err
		}
		id, err := alice.Send(ctx, room, fmt.Sprintf("ryw-%d", round), map[string]any{"msgtype": "m.text", "body": "oops"})
		if err != nil {
			return "", err
		}
		if err := alice.Do(ctx, http.MethodPut, roomPath(room, "redact/"+url.PathEscape(id)+"/"+fmt.Sprintf("ryw-r%d", round)), map[string]any{}, nil); err != nil {
			return "", err
		}
		var ev struct {
			Content  map[string]any `json:"content"`
			Unsigned struct {
				RedactedBecause any `json:"redacted_because"`
			} `json:"unsigned"`
		}
		if err := alice.Do(ctx, http.MethodGet, roomPath(room, "event/"+url.PathEscape(id)), nil, &ev); err != nil {
			return "/event right after the redaction: " + err.Error(), nil
		}
		if ev.Unsigned.RedactedBecause == nil || len(ev.Content) != 0 {
			return fmt.Sprintf("/event right after the redaction is not redacted: content %v", ev.Content), nil
		}
		return "", nil
	}},
}

func roomPath(roomID, rest string) string {
	return "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/" + rest
}

// run registers alice and bob (fresh names per run) and runs every sequence rounds times,
// parallel at a time; it returns what the stale reads saw.
func run(ctx context.Context, hs string, rounds, parallel int) ([]string, error) {
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000)
	alice, bob := &csapi.Client{BaseURL: hs}, &csapi.Client{BaseURL: hs}
	for _, r := range []struct {
		c    *csapi.Client
		name string
	}{{alice, "ryw_alice_" + suffix}, {bob, "ryw_bob_" + suffix}} {
		if _, err := r.c.Register(ctx, r.name, "ryw-password-"+suffix, "ryw"); err != nil {
			return nil, fmt.Errorf("registering %s: %w", r.name, err)
		}
	}
	var (
		mu    sync.Mutex
		stale []string
		errs  []error
	)
	for _, seq := range sequences {
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					msg, err := seq.run(ctx, alice, bob, i)
					mu.Lock()
					if err != nil {
						errs = append(errs, fmt.Errorf("%s, round %d: %w", seq.name, i, err))
					} else if msg != "" {
						stale = append(stale, seq.name+": "+msg)
					}
					mu.Unlock()
				}
			}()
		}
		for i := range rounds {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		fmt.Printf("ryw: %s: %d rounds\n", seq.name, rounds)
	}
	if len(errs) > 0 {
		msgs := make([]string, 0, len(errs))
		for _, e := range errs[:min(len(errs), 5)] {
			msgs = append(msgs, e.Error())
		}
		return stale, errors.New(strings.Join(msgs, "; "))
	}
	return stale, nil
}
