package syncv3proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	stdproxy "net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/syncv3"
)

// maxSyncV3Body bounds a POST /sync body, as the syncapi does.
const maxSyncV3Body = 64 << 10

// knownStreams are the stream names a POST /sync body may hold.
var knownStreams = map[string]bool{syncv3.StreamTyping: true, syncv3.StreamToDevice: true, syncv3.StreamRoomMembers: true,
	syncv3.StreamRoom: true, syncv3.StreamRoomList: true}

// Config is the proxy's settings (axon-syncv3-proxy's flags).
type Config struct {
	// Upstream is the homeserver's base URL (http or https).
	Upstream string
	// Sessions bounds the sync v3 sessions (zero fields: the engine's defaults); its
	// IdleTimeout also stops the poller of a token idle that long.
	Sessions syncv3.Config
	// PollTimeout is the upstream long-poll's timeout (default 30s); CatchUpTimeout bounds
	// the wait for a fresh poll round before a request is answered (default 5s).
	PollTimeout, CatchUpTimeout time.Duration
	// Client is the HTTP client for the upstream (default: one with no overall timeout).
	Client *http.Client
}

// ParseUpstream checks the upstream URL: absolute, http or https, no query.
func ParseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("upstream %q: want an http(s) base URL such as https://matrix.example.org", s)
	}
	return u, nil
}

// Server is the proxy: sync v3 on POST /sync, everything else passed through.
type Server struct {
	Engine  *syncv3.Engine
	Pollers *Pollers
	pass    *stdproxy.ReverseProxy
}

// New builds the proxy over db (SQLite or Postgres); its pollers run until ctx ends.
func New(ctx context.Context, db *sqlutil.DB, cfg Config) (*Server, error) {
	up, err := ParseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, db)
	if err != nil {
		return nil, err
	}
	sessions, err := syncv3.NewStore(ctx, db)
	if err != nil {
		return nil, err
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = DefaultPollTimeout
	}
	if cfg.CatchUpTimeout <= 0 {
		cfg.CatchUpTimeout = DefaultCatchUpTimeout
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{}
	}
	n := newNotifier()
	ps := &Pollers{upstream: up, client: client, st: st, n: n, pollTimeout: cfg.PollTimeout, catchUpWait: cfg.CatchUpTimeout,
		root: ctx, byToken: map[[32]byte]*poller{}, byDevice: map[string]*poller{}}
	eng := syncv3.NewEngine(sessions, &Source{st: st, n: n, pollers: ps}, cfg.Sessions)
	ps.idle = eng.Config.IdleTimeout
	pass := &stdproxy.ReverseProxy{Rewrite: func(r *stdproxy.ProxyRequest) {
		r.SetURL(up)
		r.SetXForwarded()
	}}
	return &Server{Engine: eng, Pollers: ps, pass: pass}, nil
}

// ServeHTTP serves POST /_matrix/client/{v3,r0}/sync itself and passes every other
// request through to the upstream unchanged (GET /sync included).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && (r.URL.Path == "/_matrix/client/v3/sync" || r.URL.Path == "/_matrix/client/r0/sync") {
		s.syncV3(w, r)
		return
	}
	s.pass.ServeHTTP(w, r)
}

// syncV3 authenticates by the upstream (the token's poller), then serves the request with
// the engine, as the syncapi's route does.
func (s *Server) syncV3(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("access_token") {
		httputil.WriteError(w, httputil.MissingToken("Sync v3 takes the access token only as an Authorization: Bearer header; ?access_token= is not supported"))
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		httputil.WriteError(w, httputil.MissingToken("Missing access token (Authorization: Bearer)"))
		return
	}
	ms := 0
	if v := q.Get("timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			httputil.WriteError(w, httputil.InvalidParam("timeout must be a non-negative integer"))
			return
		}
		ms = n
	}
	raw, me := httputil.ReadBody(r, maxSyncV3Body)
	if me != nil {
		httputil.WriteError(w, me)
		return
	}
	body := &syncv3.Request{}
	if len(raw) > 0 {
		var streams map[string]json.RawMessage
		if me := httputil.DecodeJSONObject(raw, &streams); me != nil {
			httputil.WriteError(w, me)
			return
		}
		for name := range streams {
			if !knownStreams[name] {
				httputil.WriteError(w, httputil.InvalidParam("Unknown stream %q", name))
				return
			}
		}
		if me := httputil.DecodeJSONObject(raw, body); me != nil {
			httputil.WriteError(w, me)
			return
		}
	}
	p, err := s.Pollers.caller(r.Context(), strings.TrimSpace(token))
	if err != nil {
		if r.Context().Err() == nil {
			httputil.WriteError(w, err)
		}
		return
	}
	resp, err := s.Engine.Sync(withToken(r.Context(), strings.TrimSpace(token)), syncv3.Caller{UserID: p.userID, DeviceID: p.deviceID}, q.Get("since"),
		time.Duration(ms)*time.Millisecond, body)
	if err != nil {
		if r.Context().Err() == nil {
			httputil.WriteError(w, err)
		}
		return
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
}
