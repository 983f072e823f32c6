// Package auth implements the client-server API's user-interactive authentication (UIA):
// the 401 challenge with flows and a session, the m.login.dummy and m.login.password
// stages, and sessions kept in the clientapi's own table (clientapi/storage) so that any
// clientapi instance of the polylith can continue a session another instance started.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/axon-matrix/axon/clientapi/storage"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Stage types this server offers.
const (
	StageDummy    = "m.login.dummy"
	StagePassword = "m.login.password"
	// StageRegistrationToken is spec 1.2's m.login.registration_token: the userapi counts
	// one pending use of the token for the session (ReserveRegistrationToken), which the
	// account creation then completes (CreateAccountRequest.RegistrationTokenSession).
	StageRegistrationToken = "m.login.registration_token"
)

// Flow is one list of stages that, all completed, authorise the request.
type Flow struct {
	Stages []string `json:"stages"`
}

// Identifier is the spec's user identifier; only m.id.user is supported.
type Identifier struct {
	Type string `json:"type"`
	User string `json:"user"`
}

// Dict is the "auth" object of a request body.
type Dict struct {
	Type       string      `json:"type"`
	Session    string      `json:"session"`
	Password   string      `json:"password"`
	Identifier *Identifier `json:"identifier"`
	// User is the legacy top-level user field of m.login.password.
	User string `json:"user"`
	// Token is the registration token of m.login.registration_token.
	Token string `json:"token"`
}

// Challenge is the 401 body that tells the client what is still needed.
type Challenge struct {
	Session   string         `json:"session"`
	Flows     []Flow         `json:"flows"`
	Params    map[string]any `json:"params"`
	Completed []string       `json:"completed"`
	ErrCode   string         `json:"errcode,omitempty"`
	Err       string         `json:"error,omitempty"`
}

// UIA runs user-interactive authentication.
type UIA struct {
	DB         *storage.Database
	UserAPI    userapi.UserAPI
	ServerName string
	// SessionLifetime is how long a session may take to complete (default 30 minutes).
	SessionLifetime time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Request is one round of UIA for an operation.
type Request struct {
	// Operation names the endpoint; a session only authorises the operation it began with.
	Operation string
	// UserID is the authenticated user whose password is asked, "" for registration.
	UserID string
	Flows  []Flow
	// Auth is the request body's "auth" object, nil when absent.
	Auth *Dict
	// SessionID is set by Check to the session the round ran in (the client's or a new
	// one), so the operation can find what its stages left (a reserved registration token).
	SessionID string
}

func (u *UIA) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

func (u *UIA) lifetime() time.Duration {
	if u.SessionLifetime > 0 {
		return u.SessionLifetime
	}
	return 30 * time.Minute
}

// Check runs one round. It returns done=true once a flow is complete (the session is then
// deleted and the caller performs the operation). Otherwise it returns the challenge to send
// with status 401, or err (a *httputil.MatrixError for bad input).
func (u *UIA) Check(ctx context.Context, req *Request) (done bool, challenge *Challenge, err error) {
	nowMS := u.now().UnixMilli()
	_ = u.DB.DeleteExpiredUIASessions(ctx, nowMS-u.lifetime().Milliseconds())

	var sess *storage.UIASession
	if req.Auth != nil && req.Auth.Session != "" {
		sess, err = u.DB.GetUIASession(ctx, req.Auth.Session)
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil, httputil.Unknown("Unknown or expired session ID")
		}
		if err != nil {
			return false, nil, err
		}
		if sess.Operation != req.Operation || sess.UserID != req.UserID {
			return false, nil, httputil.Forbidden("Requested operation has changed during the UI authentication session")
		}
	} else {
		sess = &storage.UIASession{ID: newSessionID(), Operation: req.Operation, UserID: req.UserID, CreatedTS: nowMS}
		if err := u.DB.CreateUIASession(ctx, sess); err != nil {
			return false, nil, err
		}
	}
	req.SessionID = sess.ID
	chal := &Challenge{Session: sess.ID, Flows: req.Flows, Params: map[string]any{}, Completed: nonNil(sess.Completed)}
	if req.Auth == nil || req.Auth.Type == "" {
		return false, chal, nil
	}
	if !offered(req.Flows, req.Auth.Type) {
		return false, nil, &httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: "M_UNRECOGNIZED",
			Err: "Authentication stage " + req.Auth.Type + " is not offered for this request"}
	}
	switch req.Auth.Type {
	case StageDummy:
	case StagePassword:
		me, err := u.checkPassword(ctx, req)
		if err != nil {
			return false, nil, err
		}
		if me != nil {
			chal.ErrCode, chal.Err = me.ErrCode, me.Err
			return false, chal, nil
		}
	case StageRegistrationToken:
		if req.Auth.Token == "" {
			chal.ErrCode, chal.Err = "M_MISSING_PARAM", "m.login.registration_token needs a token"
			return false, chal, nil
		}
		err := u.UserAPI.ReserveRegistrationToken(ctx, req.Auth.Token, sess.ID)
		var me *httputil.MatrixError
		if errors.As(err, &me) && me.Status < http.StatusInternalServerError {
			chal.ErrCode, chal.Err = me.ErrCode, me.Err
			return false, chal, nil
		}
		if err != nil {
			return false, nil, err
		}
	}
	if !contains(sess.Completed, req.Auth.Type) {
		sess.Completed = append(sess.Completed, req.Auth.Type)
	}
	if flowComplete(req.Flows, sess.Completed) {
		if err := u.DB.DeleteUIASession(ctx, sess.ID); err != nil {
			return false, nil, err
		}
		return true, nil, nil
	}
	if err := u.DB.SetUIACompleted(ctx, sess.ID, sess.Completed); err != nil {
		return false, nil, err
	}
	chal.Completed = sess.Completed
	return false, chal, nil
}

// checkPassword runs the m.login.password stage. A failed attempt (me) goes into the 401
// challenge so the client may try again. A stage naming another user than the one the
// operation is for (deleting alice's device with bob's password) is refused outright,
// 403 M_FORBIDDEN as in Synapse, without checking that user's password: the request is
// not one the session can ever authorise, and other users' passwords are not tested.
func (u *UIA) checkPassword(ctx context.Context, req *Request) (me *httputil.MatrixError, err error) {
	user := req.Auth.User
	if req.Auth.Identifier != nil {
		if req.Auth.Identifier.Type != "m.id.user" {
			return httputil.Unknown("Only m.id.user identifiers are supported"), nil
		}
		user = req.Auth.Identifier.User
	}
	if user == "" || req.Auth.Password == "" {
		return httputil.MissingParam("m.login.password needs an identifier and a password"), nil
	}
	userID := QualifyUserID(user, u.ServerName)
	if req.UserID != "" && userID != req.UserID {
		return nil, httputil.Forbidden("The password stage must authenticate the requesting user")
	}
	if _, err := u.UserAPI.CheckPassword(ctx, userID, req.Auth.Password); err != nil {
		return httputil.Forbidden("Invalid username or password"), nil
	}
	return nil, nil
}

// QualifyUserID turns a bare localpart into a full user ID on serverName. The localpart,
// bare or of a full ID, is lower-cased (LowerLocalpart): local accounts only have
// lower-case localparts, so "Alice" and "@Alice:server" log in @alice:server, as in
// Synapse. The server name of a full ID is kept as given.
func QualifyUserID(user, serverName string) string {
	if strings.HasPrefix(user, "@") {
		if local, server, ok := strings.Cut(user[1:], ":"); ok {
			return "@" + LowerLocalpart(local) + ":" + server
		}
		return user
	}
	return "@" + LowerLocalpart(user) + ":" + serverName
}

// LowerLocalpart lower-cases the ASCII letters of a localpart. Other characters stay as
// they are (so a non-ASCII letter whose lower case is ASCII, such as the Kelvin sign, is
// still refused by the localpart grammar rather than turned into someone else's name).
func LowerLocalpart(localpart string) string {
	for i := 0; i < len(localpart); i++ {
		if c := localpart[i]; c >= 'A' && c <= 'Z' {
			b := []byte(localpart)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return localpart
}

func offered(flows []Flow, stage string) bool {
	for _, f := range flows {
		if contains(f.Stages, stage) {
			return true
		}
	}
	return false
}

func flowComplete(flows []Flow, completed []string) bool {
	for _, f := range flows {
		all := true
		for _, s := range f.Stages {
			if !contains(completed, s) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func newSessionID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
