package syncv3proxy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/httputil"
)

// Poll bounds (PollerConfig's defaults).
const (
	DefaultPollTimeout    = 30 * time.Second
	DefaultCatchUpTimeout = 5 * time.Second
	// maxUpstreamBody bounds an upstream /sync answer read into memory.
	maxUpstreamBody = 256 << 20
)

// upstreamFilter is the spec /sync filter the pollers use: longer timelines than the
// default 10, so fewer gaps.
const upstreamFilter = `{"room":{"timeline":{"limit":50}}}`

// Pollers runs one poller of the upstream's spec GET /sync per access token (per device):
// started by the token's first sync v3 request, stopped once the token made no request for
// the idle timeout (its sessions expired) or when the upstream refuses the token.
type Pollers struct {
	upstream *url.URL
	client   *http.Client
	st       *Store
	n        *notifier
	// idle stops a poller whose token made no sync v3 request for this long.
	idle time.Duration
	// pollTimeout is the upstream long-poll's timeout; catchUp bounds CatchUp.
	pollTimeout, catchUpWait time.Duration
	root                     context.Context

	mu       sync.Mutex
	byToken  map[[32]byte]*poller
	byDevice map[string]*poller
	wg       sync.WaitGroup
}

// poller is one device's upstream /sync loop.
type poller struct {
	token            string
	tokenKey         [32]byte
	userID, deviceID string

	mu       sync.Mutex
	started  uint64 // rounds begun
	done     uint64 // rounds whose answer is stored
	roundEnd chan struct{}
	kicked   bool               // the next round polls without waiting
	cancel   context.CancelFunc // cancels the round in flight while it long-polls
	lastUsed time.Time
	err      *httputil.MatrixError // the upstream's refusal: the poller stopped
	stopped  bool
}

func tokenKey(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// caller returns the running poller of the access token, starting one (after asking the
// upstream's whoami who the token is) on its first request. A token the upstream refuses
// gets the upstream's error.
func (ps *Pollers) caller(ctx context.Context, token string) (*poller, error) {
	key := tokenKey(token)
	ps.mu.Lock()
	p := ps.byToken[key]
	ps.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		err, stopped := p.err, p.stopped
		p.lastUsed = time.Now()
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if !stopped {
			return p, nil
		}
	}
	userID, deviceID, err := ps.whoami(ctx, token)
	if err != nil {
		return nil, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if q := ps.byToken[key]; q != nil && q != p {
		return q, nil // a concurrent first request started it
	}
	dk := deviceKey(userID, deviceID)
	if old := ps.byDevice[dk]; old != nil {
		old.stop() // the device's new token (a refresh) replaces the old one's poller
		delete(ps.byToken, old.tokenKey)
	}
	p = &poller{token: token, tokenKey: key, userID: userID, deviceID: deviceID, roundEnd: make(chan struct{}), lastUsed: time.Now()}
	ps.byToken[key], ps.byDevice[dk] = p, p
	ps.wg.Add(1)
	go ps.run(p)
	return p, nil
}

// whoami asks the upstream whose the token is.
func (ps *Pollers) whoami(ctx context.Context, token string) (string, string, error) {
	var who struct {
		UserID   string `json:"user_id"`
		DeviceID string `json:"device_id"`
	}
	if err := ps.get(ctx, token, "/_matrix/client/v3/account/whoami", nil, &who); err != nil {
		return "", "", err
	}
	if who.UserID == "" {
		return "", "", fmt.Errorf("syncv3proxy: upstream whoami named no user")
	}
	return who.UserID, who.DeviceID, nil
}

// upstreamError is an upstream answer other than 200: its status and Matrix error.
func upstreamError(resp *http.Response) *httputil.MatrixError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		ErrCode string `json:"errcode"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.ErrCode == "" {
		e.ErrCode, e.Error = "M_UNKNOWN", fmt.Sprintf("Upstream answered %d", resp.StatusCode)
	}
	return &httputil.MatrixError{Status: resp.StatusCode, ErrCode: e.ErrCode, Err: e.Error}
}

// get GETs an upstream client-server path with the token and decodes the JSON answer.
func (ps *Pollers) get(ctx context.Context, token, path string, q url.Values, into any) error {
	u := ps.upstream.JoinPath(path)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := ps.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return upstreamError(resp)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxUpstreamBody)).Decode(into)
}

// stop marks the poller stopped and cancels its round.
func (p *poller) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.cancel != nil {
		p.cancel()
	}
}

// run is the poller's loop: each round polls the upstream from the stored next_batch and
// stores the answer with its next_batch in one transaction (ingest.go).
func (ps *Pollers) run(p *poller) {
	defer ps.wg.Done()
	log := logrus.WithFields(logrus.Fields{"user_id": p.userID, "device_id": p.deviceID})
	defer ps.forget(p)
	since, err := ps.st.Since(ps.root, p.userID, p.deviceID)
	if err != nil {
		log.WithError(err).Error("syncv3proxy: reading the poller's position")
		return
	}
	backoff := time.Second
	for ps.root.Err() == nil {
		p.mu.Lock()
		if p.stopped || time.Since(p.lastUsed) > ps.idle {
			p.stopped = true
			p.mu.Unlock()
			return
		}
		p.started++
		round := p.started
		timeout := ps.pollTimeout
		if since == "" || p.kicked {
			timeout = 0
		}
		p.kicked = false
		rctx, cancel := context.WithCancel(ps.root)
		if timeout > 0 {
			p.cancel = cancel
		}
		p.mu.Unlock()

		q := url.Values{"timeout": {fmt.Sprint(timeout.Milliseconds())}, "filter": {upstreamFilter}}
		if since != "" {
			q.Set("since", since)
		}
		var resp syncResponse
		err := ps.get(rctx, p.token, "/_matrix/client/v3/sync", q, &resp)
		p.mu.Lock()
		p.cancel = nil
		p.mu.Unlock()
		cancel()
		var me *httputil.MatrixError
		switch {
		case errors.As(err, &me) && me.Status == http.StatusUnauthorized:
			log.Info("syncv3proxy: the upstream refused the token; poller stopped")
			p.finish(round, me)
			return
		case err != nil && rctx.Err() != nil && ps.root.Err() == nil:
			continue // kicked: poll again at once
		case err != nil:
			if ps.root.Err() != nil {
				return
			}
			log.WithError(err).Warn("syncv3proxy: polling the upstream")
			select {
			case <-time.After(backoff):
			case <-ps.root.Done():
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = time.Second
		ch, err := ps.st.Ingest(ps.root, p.userID, p.deviceID, &resp)
		if err != nil {
			log.WithError(err).Error("syncv3proxy: storing the upstream's /sync")
			continue
		}
		since = resp.NextBatch
		ps.n.wake(p.userID, ch)
		p.finish(round, nil)
	}
}

// finish records that round's answer is stored (or the poller's refusal) and wakes the
// requests waiting for it.
func (p *poller) finish(round uint64, refused *httputil.MatrixError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if refused != nil {
		p.err, p.stopped = refused, true
	}
	p.done = max(p.done, round)
	close(p.roundEnd)
	p.roundEnd = make(chan struct{})
}

// forget removes a stopped poller from the maps (a refused one stays under its token, so
// its next request gets the refusal without asking the upstream again, until replaced).
func (ps *Pollers) forget(p *poller) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p.mu.Lock()
	refused := p.err != nil
	p.stopped = true
	// Wake waiters of a round that will never end.
	close(p.roundEnd)
	p.roundEnd = make(chan struct{})
	p.mu.Unlock()
	if ps.byDevice[deviceKey(p.userID, p.deviceID)] == p {
		delete(ps.byDevice, deviceKey(p.userID, p.deviceID))
	}
	if !refused && ps.byToken[p.tokenKey] == p {
		delete(ps.byToken, p.tokenKey)
	}
}

// catchUp waits until a round of the device's poller that began after now is stored (at
// most the catch-up timeout), cutting short a round waiting upstream.
func (ps *Pollers) catchUp(ctx context.Context, userID, deviceID string) error {
	ps.mu.Lock()
	p := ps.byDevice[deviceKey(userID, deviceID)]
	ps.mu.Unlock()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	target := p.started + 1
	p.kicked = true
	if p.cancel != nil {
		p.cancel()
	}
	p.mu.Unlock()
	t := time.NewTimer(ps.catchUpWait)
	defer t.Stop()
	for {
		p.mu.Lock()
		done, err, stopped, ch := p.done, p.err, p.stopped, p.roundEnd
		p.mu.Unlock()
		switch {
		case err != nil:
			return err
		case done >= target || stopped:
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return nil // serve what is stored; the long-poll wakes when the round lands
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Running is how many device pollers run.
func (ps *Pollers) Running() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.byDevice)
}

// Wait waits for the pollers to end (after the context given to New ends).
func (ps *Pollers) Wait() { ps.wg.Wait() }
