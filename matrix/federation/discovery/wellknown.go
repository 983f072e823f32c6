package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/axon-matrix/axon/matrix"
)

// WellKnown is the body of /.well-known/matrix/server.
type WellKnown struct {
	// Server is the delegated server name, "<hostname>[:<port>]".
	Server string `json:"m.server"`
}

// lookupWellKnown returns the delegated server name of host, or "" when there is none
// (any error: the spec says to go on with SRV). Answers are cached as the response's
// Cache-Control / Expires headers say, within the configured bounds; failures for
// WellKnownErrorTTL.
func (r *Resolver) lookupWellKnown(ctx context.Context, host string) string {
	for {
		now := r.opts.Now()
		r.mu.Lock()
		e, ok := r.wellKnown[host]
		if ok && now.Before(e.expires) {
			r.mu.Unlock()
			return e.delegated
		}
		// Concurrent lookups of one host share a single request.
		if ch, busy := r.wellKnownInflight[host]; busy {
			r.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return ""
			}
		}
		ch := make(chan struct{})
		r.wellKnownInflight[host] = ch
		r.mu.Unlock()

		delegated, ttl, err := r.fetchWellKnown(ctx, host)
		if err != nil {
			delegated, ttl = "", r.opts.WellKnownErrorTTL
			if ctx.Err() != nil {
				ttl = 0 // do not remember a lookup we gave up on
			}
		}
		r.mu.Lock()
		if ttl > 0 {
			r.wellKnown[host] = wellKnownEntry{delegated: delegated, expires: now.Add(ttl)}
		}
		delete(r.wellKnownInflight, host)
		r.mu.Unlock()
		close(ch)
		return delegated
	}
}

// fetchWellKnown performs one uncached /.well-known/matrix/server lookup and returns the
// delegated server name and how long the answer may be cached.
func (r *Resolver) fetchWellKnown(ctx context.Context, host string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.WellKnownTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.opts.WellKnownScheme+"://"+host+"/.well-known/matrix/server", nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := r.httpClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.opts.WellKnownMaxSize+1))
	if err != nil {
		return "", 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("well-known: status %d", resp.StatusCode)
	}
	if int64(len(body)) > r.opts.WellKnownMaxSize {
		return "", 0, errors.New("well-known: response too large")
	}
	var wk WellKnown
	if err := json.Unmarshal(body, &wk); err != nil {
		return "", 0, fmt.Errorf("well-known: %w", err)
	}
	if err := matrix.ValidateServerName(wk.Server); err != nil {
		return "", 0, fmt.Errorf("well-known: bad m.server: %w", err)
	}
	return wk.Server, r.cacheTTL(resp.Header), nil
}

// cacheTTL reads Cache-Control (no-store, no-cache, max-age) and Expires; without either
// it is the default, and never more than the maximum.
func (r *Resolver) cacheTTL(h http.Header) time.Duration {
	ttl, found := time.Duration(0), false
	for _, cc := range h.Values("Cache-Control") {
		for _, d := range strings.Split(cc, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				if secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && secs >= 0 {
					ttl, found = time.Duration(min(secs, int64(r.opts.WellKnownMaxTTL/time.Second)))*time.Second, true
				}
			}
		}
	}
	if !found {
		if exp := h.Get("Expires"); exp != "" {
			if t, err := http.ParseTime(exp); err == nil {
				ttl, found = max(t.Sub(r.opts.Now()), 0), true
			} else {
				ttl, found = 0, true // an invalid Expires means already expired (RFC 9111)
			}
		}
	}
	if !found {
		ttl = r.opts.WellKnownDefaultTTL
	}
	return min(ttl, r.opts.WellKnownMaxTTL)
}
