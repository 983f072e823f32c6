// Package testfakes holds in-memory stand-ins for the userapi and roomserver contracts,
// for the clientapi's tests only (never wired into a binary). They keep the contracts'
// documented error behaviour (errcodes) so the handlers' error paths are exercised, but
// none of the real components' storage or event logic.
package testfakes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// UserAPI is an in-memory userapi.UserAPI.
type UserAPI struct {
	ServerName string

	mu          sync.Mutex
	accounts    map[string]*userapi.Account
	passwords   map[string]string
	devices     map[string]map[string]*userapi.Device // user → device ID → device
	tokens      map[string]*userapi.Device
	profiles    map[string]*userapi.Profile
	accountData map[string]json.RawMessage // user|room|type
	filters     map[string]json.RawMessage // user|id
	nextFilter  int
}

var _ userapi.UserAPI = (*UserAPI)(nil)

// NewUserAPI returns an empty fake userapi for serverName.
func NewUserAPI(serverName string) *UserAPI {
	return &UserAPI{ServerName: serverName, accounts: map[string]*userapi.Account{}, passwords: map[string]string{},
		devices: map[string]map[string]*userapi.Device{}, tokens: map[string]*userapi.Device{},
		profiles: map[string]*userapi.Profile{}, accountData: map[string]json.RawMessage{}, filters: map[string]json.RawMessage{}}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (u *UserAPI) CreateAccount(ctx context.Context, req *userapi.CreateAccountRequest) (*userapi.Account, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	id := "@" + req.Localpart + ":" + u.ServerName
	if _, ok := u.accounts[id]; ok {
		return nil, httputil.UserInUse("User ID already taken")
	}
	a := &userapi.Account{UserID: id, Localpart: req.Localpart, AccountType: req.AccountType, CreatedTS: time.Now().UnixMilli()}
	u.accounts[id] = a
	u.passwords[id] = req.Password
	dn := req.DisplayName
	if dn == "" {
		dn = req.Localpart
	}
	u.profiles[id] = &userapi.Profile{UserID: id, DisplayName: dn}
	cp := *a
	return &cp, nil
}

func (u *UserAPI) LocalpartAvailable(ctx context.Context, localpart string) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, taken := u.accounts["@"+localpart+":"+u.ServerName]
	return !taken, nil
}

func (u *UserAPI) GetAccount(ctx context.Context, userID string) (*userapi.Account, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	a, ok := u.accounts[userID]
	if !ok {
		return nil, httputil.NotFound("No such user")
	}
	cp := *a
	return &cp, nil
}

func (u *UserAPI) CheckPassword(ctx context.Context, userID, password string) (*userapi.Account, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	a, ok := u.accounts[userID]
	if !ok || a.Deactivated || u.passwords[userID] == "" || u.passwords[userID] != password {
		return nil, httputil.Forbidden("Invalid username or password")
	}
	cp := *a
	return &cp, nil
}

func (u *UserAPI) SetPassword(ctx context.Context, userID, newPassword string, logoutDevices bool, exceptDeviceID string) error {
	u.mu.Lock()
	if _, ok := u.accounts[userID]; !ok {
		u.mu.Unlock()
		return httputil.NotFound("No such user")
	}
	u.passwords[userID] = newPassword
	u.mu.Unlock()
	if logoutDevices {
		return u.DeleteAllDevices(ctx, userID, exceptDeviceID)
	}
	return nil
}

func (u *UserAPI) DeactivateAccount(ctx context.Context, userID string) error {
	u.mu.Lock()
	a, ok := u.accounts[userID]
	if !ok {
		u.mu.Unlock()
		return httputil.NotFound("No such user")
	}
	a.Deactivated = true
	u.mu.Unlock()
	return u.DeleteAllDevices(ctx, userID, "")
}

func (u *UserAPI) CreateDevice(ctx context.Context, req *userapi.CreateDeviceRequest) (*userapi.Device, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	a, ok := u.accounts[req.UserID]
	if !ok {
		return nil, httputil.NotFound("No such user")
	}
	id := req.DeviceID
	if id == "" {
		id = strings.ToUpper(randHex(5))
	}
	if u.devices[req.UserID] == nil {
		u.devices[req.UserID] = map[string]*userapi.Device{}
	}
	if old, ok := u.devices[req.UserID][id]; ok {
		delete(u.tokens, old.AccessToken)
	}
	d := &userapi.Device{UserID: req.UserID, DeviceID: id, DisplayName: req.DisplayName, AccessToken: "tok_" + randHex(16),
		LastSeenIP: req.IP, LastSeenTS: time.Now().UnixMilli(), AccountType: a.AccountType}
	u.devices[req.UserID][id] = d
	u.tokens[d.AccessToken] = d
	cp := *d
	return &cp, nil
}

func (u *UserAPI) QueryAccessToken(ctx context.Context, accessToken string) (*userapi.Device, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	d, ok := u.tokens[accessToken]
	if !ok {
		return nil, httputil.UnknownToken("Unknown access token")
	}
	cp := *d
	cp.AccessToken = ""
	return &cp, nil
}

func (u *UserAPI) ListDevices(ctx context.Context, userID string) ([]userapi.Device, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []userapi.Device
	for _, d := range u.devices[userID] {
		cp := *d
		cp.AccessToken = ""
		out = append(out, cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeviceID < out[j].DeviceID })
	return out, nil
}

func (u *UserAPI) GetDevice(ctx context.Context, userID, deviceID string) (*userapi.Device, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	d, ok := u.devices[userID][deviceID]
	if !ok {
		return nil, httputil.NotFound("Unknown device")
	}
	cp := *d
	cp.AccessToken = ""
	return &cp, nil
}

func (u *UserAPI) UpdateDevice(ctx context.Context, userID, deviceID, displayName string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	d, ok := u.devices[userID][deviceID]
	if !ok {
		return httputil.NotFound("Unknown device")
	}
	d.DisplayName = displayName
	return nil
}

func (u *UserAPI) DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, id := range deviceIDs {
		if d, ok := u.devices[userID][id]; ok {
			delete(u.tokens, d.AccessToken)
			delete(u.devices[userID], id)
		}
	}
	return nil
}

func (u *UserAPI) DeleteAllDevices(ctx context.Context, userID, exceptDeviceID string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id, d := range u.devices[userID] {
		if id != exceptDeviceID {
			delete(u.tokens, d.AccessToken)
			delete(u.devices[userID], id)
		}
	}
	return nil
}

func (u *UserAPI) GetProfile(ctx context.Context, userID string) (*userapi.Profile, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, ok := u.profiles[userID]
	if !ok {
		return nil, httputil.NotFound("No such user")
	}
	cp := *p
	return &cp, nil
}

func (u *UserAPI) SetDisplayName(ctx context.Context, userID, displayName string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, ok := u.profiles[userID]
	if !ok {
		return httputil.NotFound("No such user")
	}
	p.DisplayName = displayName
	return nil
}

func (u *UserAPI) SetAvatarURL(ctx context.Context, userID, avatarURL string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, ok := u.profiles[userID]
	if !ok {
		return httputil.NotFound("No such user")
	}
	p.AvatarURL = avatarURL
	return nil
}

func adKey(userID, roomID, typ string) string { return userID + "|" + roomID + "|" + typ }

func (u *UserAPI) SetAccountData(ctx context.Context, data *userapi.AccountData) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.accountData[adKey(data.UserID, data.RoomID, data.Type)] = append(json.RawMessage(nil), data.Content...)
	return nil
}

func (u *UserAPI) GetAccountData(ctx context.Context, userID, roomID, dataType string) (json.RawMessage, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	c, ok := u.accountData[adKey(userID, roomID, dataType)]
	if !ok {
		return nil, httputil.NotFound("Account data not found")
	}
	return c, nil
}

func (u *UserAPI) ListAccountData(ctx context.Context, userID string) ([]userapi.AccountData, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []userapi.AccountData
	for k, v := range u.accountData {
		p := strings.SplitN(k, "|", 3)
		if p[0] == userID {
			out = append(out, userapi.AccountData{UserID: p[0], RoomID: p[1], Type: p[2], Content: v})
		}
	}
	return out, nil
}

func (u *UserAPI) PutFilter(ctx context.Context, userID string, filter json.RawMessage) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.nextFilter++
	id := fmt.Sprint(u.nextFilter)
	u.filters[userID+"|"+id] = append(json.RawMessage(nil), filter...)
	return id, nil
}

func (u *UserAPI) GetFilter(ctx context.Context, userID, filterID string) (json.RawMessage, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f, ok := u.filters[userID+"|"+filterID]
	if !ok {
		return nil, httputil.NotFound("Filter not found")
	}
	return f, nil
}
