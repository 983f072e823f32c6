package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// fakeUsers is the part of the userapi TokenAuth uses: accounts, devices, tokens.
type fakeUsers struct {
	userapi.UserAPI
	accounts map[string]bool // user ID → deactivated
	devices  map[string]string
	created  []string
}

func (f *fakeUsers) GetAccount(_ context.Context, userID string) (*userapi.Account, error) {
	d, ok := f.accounts[userID]
	if !ok {
		return nil, httputil.NotFound("no account")
	}
	return &userapi.Account{UserID: userID, Deactivated: d}, nil
}

func (f *fakeUsers) CreateAccount(_ context.Context, req *userapi.CreateAccountRequest) (*userapi.Account, error) {
	id := "@" + req.Localpart + ":hs.test"
	f.accounts[id] = false
	f.created = append(f.created, id)
	return &userapi.Account{UserID: id}, nil
}

func (f *fakeUsers) GetDevice(_ context.Context, userID, deviceID string) (*userapi.Device, error) {
	if f.devices[deviceID] != userID {
		return nil, httputil.NotFound("no device")
	}
	return &userapi.Device{UserID: userID, DeviceID: deviceID}, nil
}

func (f *fakeUsers) QueryAccessToken(_ context.Context, token string) (*userapi.Device, error) {
	if token == "user-token" {
		return &userapi.Device{UserID: "@alice:hs.test", DeviceID: "ALICE"}, nil
	}
	return nil, httputil.UnknownToken("Unknown token")
}

// TestWithASTokens: a userapi wrapped by WithASTokens, behind Middleware, takes an
// as_token for the sender (created on first use), a registered namespace user with
// ?user_id=, and one of that user's devices with ?device_id= when org.matrix.msc3202 is
// on; everything else is the userapi's answer or the spec's error.
func TestWithASTokens(t *testing.T) {
	parse := func(file, y string) *Registration {
		r, err := ParseRegistration(file, []byte(y), "hs.test")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	regs, err := NewRegistrations([]*Registration{
		parse("e2ee.yaml", `{id: e2ee, url: null, as_token: as-e2ee, hs_token: hs-e2ee, sender_localpart: e2eebot,
  org.matrix.msc3202: true, rate_limited: false, namespaces: {users: [{exclusive: true, regex: "@_e2ee_.*"}]}}`),
		parse("plain.yaml", `{id: plain, url: null, as_token: as-plain, hs_token: hs-plain, sender_localpart: plainbot,
  namespaces: {users: [{exclusive: true, regex: "@_plain_.*"}]}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	users := &fakeUsers{accounts: map[string]bool{"@_e2ee_bob:hs.test": false, "@_e2ee_gone:hs.test": true, "@_plain_x:hs.test": false},
		devices: map[string]string{"BOBDEV": "@_e2ee_bob:hs.test", "XDEV": "@_plain_x:hs.test"}}
	wrapped := WithASTokens(users, regs)
	for _, tt := range []struct {
		name, token, query    string
		status                int
		errcode, user, device string
		appService            bool
	}{
		{"user token", "user-token", "user_id=@_e2ee_bob:hs.test", 200, "", "@alice:hs.test", "ALICE", false},
		{"unknown token", "nope", "", 401, "M_UNKNOWN_TOKEN", "", "", false},
		{"sender", "as-e2ee", "", 200, "", "@e2eebot:hs.test", "", true},
		{"masquerade", "as-e2ee", "user_id=@_e2ee_bob:hs.test", 200, "", "@_e2ee_bob:hs.test", "", true},
		{"device", "as-e2ee", "user_id=@_e2ee_bob:hs.test&device_id=BOBDEV", 200, "", "@_e2ee_bob:hs.test", "BOBDEV", true},
		{"unstable device", "as-e2ee", "user_id=@_e2ee_bob:hs.test&org.matrix.msc3202.device_id=BOBDEV", 200, "", "@_e2ee_bob:hs.test", "BOBDEV", true},
		{"someone else's device", "as-e2ee", "user_id=@_e2ee_bob:hs.test&device_id=XDEV", 400, "M_EXCLUSIVE", "", "", false},
		{"not in namespace", "as-e2ee", "user_id=@_plain_x:hs.test", 403, "M_FORBIDDEN", "", "", false},
		{"not registered", "as-e2ee", "user_id=@_e2ee_nobody:hs.test", 403, "M_FORBIDDEN", "", "", false},
		{"deactivated", "as-e2ee", "user_id=@_e2ee_gone:hs.test", 403, "M_FORBIDDEN", "", "", false},
		{"device without msc3202", "as-plain", "user_id=@_plain_x:hs.test&device_id=XDEV", 200, "", "@_plain_x:hs.test", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var dev *userapi.Device
			var err error
			h := Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				dev, err = wrapped.QueryAccessToken(r.Context(), tt.token)
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x?"+tt.query, nil))
			if tt.status != 200 {
				me := httputil.AsMatrixError(err)
				if me == nil || me.Status != tt.status || me.ErrCode != tt.errcode {
					t.Fatalf("got %+v, %v; want %d %s", dev, err, tt.status, tt.errcode)
				}
				return
			}
			if err != nil || dev.UserID != tt.user || dev.DeviceID != tt.device ||
				(dev.AccountType == userapi.AccountTypeAppService) != tt.appService {
				t.Fatalf("got %+v, %v; want %s %s (appservice account type %v)", dev, err, tt.user, tt.device, tt.appService)
			}
		})
	}
	if len(users.created) != 1 || users.created[0] != "@e2eebot:hs.test" {
		t.Fatalf("accounts created: %v", users.created)
	}
	if WithASTokens(users, nil) != userapi.UserAPI(users) {
		t.Fatal("without services the userapi should be returned as it is")
	}
}
