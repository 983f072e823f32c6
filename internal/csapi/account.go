package csapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Session is what register and login answer.
type Session struct {
	UserID      string `json:"user_id"`
	AccessToken string `json:"access_token"`
	DeviceID    string `json:"device_id"`
}

func (c *Client) adopt(s *Session) {
	c.AccessToken, c.UserID, c.DeviceID = s.AccessToken, s.UserID, s.DeviceID
}

// Register creates an account: POST /register, and when the server answers 401 with a
// user-interactive auth session, the same request again completing the m.login.dummy
// stage of that session. On success the client takes the new session's token, user ID
// and device ID.
func (c *Client) Register(ctx context.Context, username, password, deviceName string) (*Session, error) {
	body := map[string]any{"username": username, "password": password, "initial_device_display_name": deviceName}
	var res Session
	err := c.Do(ctx, http.MethodPost, "/_matrix/client/v3/register", body, &res)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
		var uia struct {
			Session string `json:"session"`
		}
		_ = json.Unmarshal([]byte(e.Body), &uia)
		body["auth"] = map[string]any{"type": "m.login.dummy", "session": uia.Session}
		err = c.Do(ctx, http.MethodPost, "/_matrix/client/v3/register", body, &res)
	}
	if err != nil {
		return nil, err
	}
	if res.AccessToken == "" {
		return nil, fmt.Errorf("register %s answered without an access token", username)
	}
	c.adopt(&res)
	return &res, nil
}

// Login is POST /login with m.login.password for a local user; on success the client
// takes the new session.
func (c *Client) Login(ctx context.Context, user, password, deviceName string) (*Session, error) {
	body := map[string]any{
		"type":                        "m.login.password",
		"identifier":                  map[string]any{"type": "m.id.user", "user": user},
		"password":                    password,
		"initial_device_display_name": deviceName,
	}
	var res Session
	if err := c.Do(ctx, http.MethodPost, "/_matrix/client/v3/login", body, &res); err != nil {
		return nil, err
	}
	if res.AccessToken == "" {
		return nil, fmt.Errorf("login %s answered without an access token", user)
	}
	c.adopt(&res)
	return &res, nil
}

// WhoAmI is GET /account/whoami: the user ID the access token belongs to.
func (c *Client) WhoAmI(ctx context.Context) (string, error) {
	var res struct {
		UserID string `json:"user_id"`
	}
	if err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/account/whoami", nil, &res); err != nil {
		return "", err
	}
	if res.UserID == "" {
		return "", errors.New("whoami answered without user_id")
	}
	return res.UserID, nil
}
