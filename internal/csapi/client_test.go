package csapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// seen is one request as the test server received it.
type seen struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   map[string]any // nil when the request had none
}

// answer is what the test server replies to one request, in order.
type answer struct {
	status int
	body   string
}

// server records every request and answers them with answers in turn. It stands for no
// homeserver behaviour: the tests check the requests csapi builds and how it reads answers.
func server(t *testing.T, answers []answer) (*httptest.Server, *[]seen) {
	t.Helper()
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &s.Body); err != nil {
				t.Errorf("%s %s: body %q is not a JSON object", r.Method, r.URL, b)
			}
		}
		got = append(got, s)
		if len(got) > len(answers) {
			t.Errorf("unexpected request %d: %s %s", len(got), r.Method, r.URL)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		a := answers[len(got)-1]
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

type testContent struct {
	Body string `json:"body"`
	N    int    `json:"n"`
}

func TestRequests(t *testing.T) {
	const json = "application/json"
	cases := []struct {
		name    string
		token   string
		call    func(ctx context.Context, c *Client) (any, error)
		answers []answer
		want    []seen
		result  any
		// after: the client's session fields after the call
		after [3]string
	}{
		{
			name:    "register without auth (server asks for none)",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.Register(ctx, "alice", "pw", "dev") },
			answers: []answer{{200, `{"user_id":"@alice:x","access_token":"t1","device_id":"D1"}`}},
			want: []seen{{Method: "POST", Path: "/_matrix/client/v3/register", ContentType: json,
				Body: map[string]any{"username": "alice", "password": "pw", "initial_device_display_name": "dev"}}},
			result: &Session{UserID: "@alice:x", AccessToken: "t1", DeviceID: "D1"},
			after:  [3]string{"t1", "@alice:x", "D1"},
		},
		{
			name: "register through m.login.dummy",
			call: func(ctx context.Context, c *Client) (any, error) { return c.Register(ctx, "bob", "pw", "dev") },
			answers: []answer{
				{401, `{"session":"S","flows":[{"stages":["m.login.dummy"]}],"params":{}}`},
				{200, `{"user_id":"@bob:x","access_token":"t2","device_id":"D2"}`},
			},
			want: []seen{
				{Method: "POST", Path: "/_matrix/client/v3/register", ContentType: json,
					Body: map[string]any{"username": "bob", "password": "pw", "initial_device_display_name": "dev"}},
				{Method: "POST", Path: "/_matrix/client/v3/register", ContentType: json,
					Body: map[string]any{"username": "bob", "password": "pw", "initial_device_display_name": "dev",
						"auth": map[string]any{"type": "m.login.dummy", "session": "S"}}},
			},
			result: &Session{UserID: "@bob:x", AccessToken: "t2", DeviceID: "D2"},
			after:  [3]string{"t2", "@bob:x", "D2"},
		},
		{
			name:    "login",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.Login(ctx, "carol", "pw", "dev") },
			answers: []answer{{200, `{"user_id":"@carol:x","access_token":"t3","device_id":"D3"}`}},
			want: []seen{{Method: "POST", Path: "/_matrix/client/v3/login", ContentType: json,
				Body: map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "carol"},
					"password": "pw", "initial_device_display_name": "dev"}}},
			result: &Session{UserID: "@carol:x", AccessToken: "t3", DeviceID: "D3"},
			after:  [3]string{"t3", "@carol:x", "D3"},
		},
		{
			name:    "whoami",
			token:   "tok",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.WhoAmI(ctx) },
			answers: []answer{{200, `{"user_id":"@a:x"}`}},
			want:    []seen{{Method: "GET", Path: "/_matrix/client/v3/account/whoami", Auth: "Bearer tok"}},
			result:  "@a:x",
			after:   [3]string{"tok"},
		},
		{
			name:  "createRoom leaves out empty fields",
			token: "tok",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateRoom(ctx, CreateRoomRequest{Preset: "public_chat"})
			},
			answers: []answer{{200, `{"room_id":"!r:x"}`}},
			want: []seen{{Method: "POST", Path: "/_matrix/client/v3/createRoom", Auth: "Bearer tok", ContentType: json,
				Body: map[string]any{"preset": "public_chat"}}},
			result: "!r:x",
			after:  [3]string{"tok"},
		},
		{
			name:  "createRoom with a name",
			token: "tok",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateRoom(ctx, CreateRoomRequest{Preset: "public_chat", Name: "n"})
			},
			answers: []answer{{200, `{"room_id":"!r:x"}`}},
			want: []seen{{Method: "POST", Path: "/_matrix/client/v3/createRoom", Auth: "Bearer tok", ContentType: json,
				Body: map[string]any{"preset": "public_chat", "name": "n"}}},
			result: "!r:x",
			after:  [3]string{"tok"},
		},
		{
			name:    "join escapes the room ID",
			token:   "tok",
			call:    func(ctx context.Context, c *Client) (any, error) { return nil, c.Join(ctx, "!a/b:x") },
			answers: []answer{{200, `{"room_id":"!a/b:x"}`}},
			want: []seen{{Method: "POST", Path: "/_matrix/client/v3/join/%21a%2Fb:x", Auth: "Bearer tok", ContentType: json,
				Body: map[string]any{}}},
			after: [3]string{"tok"},
		},
		{
			name:  "send puts the content under the transaction ID",
			token: "tok",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Send(ctx, "!r:x", "t/1", map[string]any{"msgtype": "m.text", "body": "hi"})
			},
			answers: []answer{{200, `{"event_id":"$e"}`}},
			want: []seen{{Method: "PUT", Path: "/_matrix/client/v3/rooms/%21r:x/send/m.room.message/t%2F1", Auth: "Bearer tok",
				ContentType: json, Body: map[string]any{"msgtype": "m.text", "body": "hi"}}},
			result: "$e",
			after:  [3]string{"tok"},
		},
		{
			name:  "initial sync: timeout 0 sent, no since",
			token: "tok",
			call: func(ctx context.Context, c *Client) (any, error) {
				return Sync[testContent](ctx, c, SyncRequest{Filter: `{"a":1}`})
			},
			answers: []answer{{200, `{"next_batch":"s1","rooms":{"join":{"!r:x":{"timeline":{"limited":true,"prev_batch":"p",
				"events":[{"type":"m.room.message","event_id":"$e","sender":"@a:x","origin_server_ts":5,"content":{"body":"hi","n":3,"other":true}}]}}}}}`}},
			want: []seen{{Method: "GET", Path: "/_matrix/client/v3/sync", Auth: "Bearer tok",
				Query: "filter=%7B%22a%22%3A1%7D&timeout=0"}},
			result: func() any {
				r := &SyncResponse[testContent]{NextBatch: "s1"}
				var jr JoinedRoom[testContent]
				jr.Timeline.Limited, jr.Timeline.PrevBatch = true, "p"
				jr.Timeline.Events = []Event[testContent]{{Type: "m.room.message", EventID: "$e", Sender: "@a:x", OriginServerTS: 5,
					Content: testContent{Body: "hi", N: 3}}}
				r.Rooms.Join = map[string]JoinedRoom[testContent]{"!r:x": jr}
				return r
			}(),
			after: [3]string{"tok"},
		},
		{
			name:  "incremental long-poll",
			token: "tok",
			call: func(ctx context.Context, c *Client) (any, error) {
				return Sync[struct{}](ctx, c, SyncRequest{Since: "s1", Timeout: 30 * time.Second})
			},
			answers: []answer{{200, `{"next_batch":"s2"}`}},
			want:    []seen{{Method: "GET", Path: "/_matrix/client/v3/sync", Auth: "Bearer tok", Query: "since=s1&timeout=30000"}},
			result:  &SyncResponse[struct{}]{NextBatch: "s2"},
			after:   [3]string{"tok"},
		},
		{
			name:  "messages backwards from a token",
			token: "tok",
			call: func(ctx context.Context, c *Client) (any, error) {
				return Messages[struct{}](ctx, c, "!r:x", MessagesRequest{Dir: "b", From: "t1", Limit: 20})
			},
			answers: []answer{{200, `{"chunk":[{"event_id":"$a","type":"m.room.message","content":{"body":"x"}}],"start":"t1","end":"t2"}`}},
			want: []seen{{Method: "GET", Path: "/_matrix/client/v3/rooms/%21r:x/messages", Auth: "Bearer tok",
				Query: "dir=b&from=t1&limit=20"}},
			result: &MessagesResponse[struct{}]{Chunk: []Event[struct{}]{{EventID: "$a", Type: "m.room.message"}}, Start: "t1", End: "t2"},
			after:  [3]string{"tok"},
		},
		{
			name:  "messages from the newest, server's limit",
			token: "tok",
			call: func(ctx context.Context, c *Client) (any, error) {
				return Messages[struct{}](ctx, c, "!r:x", MessagesRequest{Dir: "b"})
			},
			answers: []answer{{200, `{"chunk":[],"start":"t1"}`}},
			want:    []seen{{Method: "GET", Path: "/_matrix/client/v3/rooms/%21r:x/messages", Auth: "Bearer tok", Query: "dir=b"}},
			result:  &MessagesResponse[struct{}]{Chunk: []Event[struct{}]{}, Start: "t1"},
			after:   [3]string{"tok"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := server(t, tc.answers)
			c := &Client{BaseURL: srv.URL, AccessToken: tc.token}
			res, err := tc.call(context.Background(), c)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("requests\n got %+v\nwant %+v", *got, tc.want)
			}
			if tc.result != nil && !reflect.DeepEqual(res, tc.result) {
				t.Fatalf("result\n got %+v\nwant %+v", res, tc.result)
			}
			if s := [3]string{c.AccessToken, c.UserID, c.DeviceID}; s != tc.after {
				t.Fatalf("client session %q, want %q", s, tc.after)
			}
		})
	}
}

// TestErrors: a non-2xx answer is an *Error carrying the status, the spec's errcode and
// message when the body is a Matrix error, and the body as received; a 2xx answer that
// lacks what the call returns is an error too, and so is no answer at all.
func TestErrors(t *testing.T) {
	cases := []struct {
		name    string
		call    func(ctx context.Context, c *Client) error
		answers []answer
		want    *Error // nil: an error that is not an *Error
	}{
		{
			name: "Matrix error",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Send(ctx, "!r:x", "1", map[string]any{})
				return err
			},
			answers: []answer{{403, `{"errcode":"M_FORBIDDEN","error":"not in room"}`}},
			want:    &Error{Status: 403, ErrCode: "M_FORBIDDEN", Message: "not in room", Body: `{"errcode":"M_FORBIDDEN","error":"not in room"}`},
		},
		{
			name:    "proxy page without errcode",
			call:    func(ctx context.Context, c *Client) error { return c.Join(ctx, "!r:x") },
			answers: []answer{{502, `<html>bad gateway</html>`}},
			want:    &Error{Status: 502, Body: `<html>bad gateway</html>`},
		},
		{
			name:    "rate limited",
			call:    func(ctx context.Context, c *Client) error { _, err := c.WhoAmI(ctx); return err },
			answers: []answer{{429, `{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":100}`}},
			want: &Error{Status: 429, ErrCode: "M_LIMIT_EXCEEDED", Message: "slow down",
				Body: `{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":100}`},
		},
		{
			name: "register: the dummy stage refused",
			call: func(ctx context.Context, c *Client) error { _, err := c.Register(ctx, "a", "pw", "d"); return err },
			answers: []answer{
				{401, `{"session":"S"}`},
				{400, `{"errcode":"M_USER_IN_USE","error":"taken"}`},
			},
			want: &Error{Status: 400, ErrCode: "M_USER_IN_USE", Message: "taken", Body: `{"errcode":"M_USER_IN_USE","error":"taken"}`},
		},
		{
			name:    "register: not 401, no second attempt",
			call:    func(ctx context.Context, c *Client) error { _, err := c.Register(ctx, "a", "pw", "d"); return err },
			answers: []answer{{403, `{"errcode":"M_FORBIDDEN","error":"registration is closed"}`}},
			want:    &Error{Status: 403, ErrCode: "M_FORBIDDEN", Message: "registration is closed", Body: `{"errcode":"M_FORBIDDEN","error":"registration is closed"}`},
		},
		{
			name:    "register: 200 without a token",
			call:    func(ctx context.Context, c *Client) error { _, err := c.Register(ctx, "a", "pw", "d"); return err },
			answers: []answer{{200, `{"user_id":"@a:x"}`}},
		},
		{
			name: "send: 200 without event_id",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Send(ctx, "!r:x", "1", map[string]any{})
				return err
			},
			answers: []answer{{200, `{}`}},
		},
		{
			name: "createRoom: 200 without room_id",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateRoom(ctx, CreateRoomRequest{})
				return err
			},
			answers: []answer{{200, `{}`}},
		},
		{
			name: "sync: 2xx that is not JSON",
			call: func(ctx context.Context, c *Client) error {
				_, err := Sync[struct{}](ctx, c, SyncRequest{})
				return err
			},
			answers: []answer{{200, `not json`}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := server(t, tc.answers)
			err := tc.call(context.Background(), &Client{BaseURL: srv.URL})
			if err == nil {
				t.Fatal("no error")
			}
			if len(*got) != len(tc.answers) {
				t.Fatalf("%d requests, want %d", len(*got), len(tc.answers))
			}
			var e *Error
			if tc.want == nil {
				if errors.As(err, &e) {
					t.Fatalf("error %v is an *Error", err)
				}
				return
			}
			if !errors.As(err, &e) || !reflect.DeepEqual(e, tc.want) {
				t.Fatalf("error %#v, want %#v", err, tc.want)
			}
		})
	}
}

// TestNoAnswer: a request that reaches no server returns the transport's error, not an
// *Error, so a tool can tell "no answer" from an answer.
func TestNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err := (&Client{BaseURL: base}).WhoAmI(context.Background())
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("error %v, want a transport error", err)
	}
}

func TestErrorText(t *testing.T) {
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'x'
	}
	cases := []struct {
		e    *Error
		want string
	}{
		{&Error{Status: 404, Body: `{"errcode":"M_NOT_FOUND"}`}, `HTTP 404: {"errcode":"M_NOT_FOUND"}`},
		{&Error{Status: 502, Body: string(long)}, "HTTP 502: " + string(long[:300])},
	}
	for _, tc := range cases {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
