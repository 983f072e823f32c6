package internal

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/userapi/api"
)

func TestCreateAccount(t *testing.T) {
	long := strings.Repeat("a", 255-len("@:"+testServer)) // exactly 255 bytes as a user ID
	tests := []struct {
		name      string
		req       api.CreateAccountRequest
		wantCode  string
		wantLocal string // for generated guest localparts: "" = check only that it is numeric
	}{
		{"plain user", api.CreateAccountRequest{Localpart: "alice", Password: "pw"}, "", "alice"},
		{"all allowed characters", api.CreateAccountRequest{Localpart: "a.b_c=d-e/f+g9"}, "", "a.b_c=d-e/f+g9"},
		{"taken", api.CreateAccountRequest{Localpart: "taken"}, "M_USER_IN_USE", ""},
		{"uppercase", api.CreateAccountRequest{Localpart: "Alice"}, "M_INVALID_USERNAME", ""},
		{"space", api.CreateAccountRequest{Localpart: "al ice"}, "M_INVALID_USERNAME", ""},
		{"colon", api.CreateAccountRequest{Localpart: "al:ice"}, "M_INVALID_USERNAME", ""},
		{"non-ascii", api.CreateAccountRequest{Localpart: "alicé"}, "M_INVALID_USERNAME", ""},
		{"empty", api.CreateAccountRequest{Localpart: ""}, "M_INVALID_USERNAME", ""},
		{"255 bytes", api.CreateAccountRequest{Localpart: long}, "", long},
		{"256 bytes", api.CreateAccountRequest{Localpart: long + "a"}, "M_INVALID_USERNAME", ""},
		{"numeric user", api.CreateAccountRequest{Localpart: "12345"}, "M_INVALID_USERNAME", ""},
		{"numeric guest", api.CreateAccountRequest{Localpart: "12345", AccountType: api.AccountTypeGuest}, "", "12345"},
		{"generated guest", api.CreateAccountRequest{AccountType: api.AccountTypeGuest}, "", ""},
		{"underscore user", api.CreateAccountRequest{Localpart: "_bridge"}, "M_INVALID_USERNAME", ""},
		{"underscore appservice", api.CreateAccountRequest{Localpart: "_bridge", AccountType: api.AccountTypeAppService}, "", "_bridge"},
		{"reserved", api.CreateAccountRequest{Localpart: "admin"}, "M_USER_IN_USE", ""},
		{"bad account type", api.CreateAccountRequest{Localpart: "bob", AccountType: 99}, "M_INVALID_PARAM", ""},
	}
	forEachDB(t, Config{ReservedLocalparts: []string{"admin"}}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		e.mustAccount(t, "taken", "")
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				req := tc.req
				acct, err := e.api.CreateAccount(ctx, &req)
				wantErrCode(t, err, tc.wantCode)
				if tc.wantCode != "" {
					if tc.req.Localpart != "" && tc.req.Localpart != "taken" && tc.wantCode != "M_USER_IN_USE" {
						if _, err := e.api.GetAccount(ctx, "@"+tc.req.Localpart+":"+testServer); err == nil {
							t.Fatal("rejected account was stored")
						}
					}
					return
				}
				if tc.wantLocal != "" && acct.Localpart != tc.wantLocal {
					t.Fatalf("localpart = %q, want %q", acct.Localpart, tc.wantLocal)
				}
				if tc.wantLocal == "" && !isAllDigits(acct.Localpart) {
					t.Fatalf("guest localpart %q is not numeric", acct.Localpart)
				}
				if acct.UserID != "@"+acct.Localpart+":"+testServer {
					t.Fatalf("user ID = %q", acct.UserID)
				}
				got, err := e.api.GetAccount(ctx, acct.UserID)
				if err != nil {
					t.Fatal(err)
				}
				if *got != *acct {
					t.Fatalf("GetAccount = %+v, want %+v", got, acct)
				}
				p, err := e.api.GetProfile(ctx, acct.UserID)
				if err != nil {
					t.Fatal(err)
				}
				if p.DisplayName != acct.Localpart {
					t.Fatalf("default display name = %q, want the localpart %q", p.DisplayName, acct.Localpart)
				}
			})
		}
	})
}

func TestCreateAccountDisplayNameAndGuestSequence(t *testing.T) {
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		a, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "carol", DisplayName: "Carol C."})
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := e.api.GetProfile(ctx, a.UserID); p == nil || p.DisplayName != "Carol C." {
			t.Fatalf("profile = %+v", p)
		}
		// A guest's generated localpart skips numbers already taken.
		if _, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "1", AccountType: api.AccountTypeGuest}); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{"1": true}
		for range 3 {
			g, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{AccountType: api.AccountTypeGuest})
			if err != nil {
				t.Fatal(err)
			}
			if seen[g.Localpart] || g.AccountType != api.AccountTypeGuest {
				t.Fatalf("guest %+v repeats a localpart or has the wrong type", g)
			}
			seen[g.Localpart] = true
		}
	})
}

func TestLocalpartAvailable(t *testing.T) {
	tests := []struct {
		localpart string
		want      bool
		wantCode  string
	}{
		{"free", true, ""},
		{"taken", false, ""},
		{"gone", false, ""}, // deactivated: localparts are never reused
		{"admin", false, ""},
		{"Bad", false, "M_INVALID_USERNAME"},
		{"", false, "M_INVALID_USERNAME"},
	}
	forEachDB(t, Config{ReservedLocalparts: []string{"admin"}}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		e.mustAccount(t, "taken", "")
		gone := e.mustAccount(t, "gone", "")
		if err := e.api.DeactivateAccount(ctx, gone.UserID); err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(tc.localpart, func(t *testing.T) {
				got, err := e.api.LocalpartAvailable(ctx, tc.localpart)
				wantErrCode(t, err, tc.wantCode)
				if got != tc.want {
					t.Fatalf("LocalpartAvailable(%q) = %v, want %v", tc.localpart, got, tc.want)
				}
			})
		}
	})
}

func TestGetAccountErrors(t *testing.T) {
	tests := []struct{ userID, wantCode string }{
		{"@nobody:" + testServer, "M_NOT_FOUND"},
		{"@alice:other.org", "M_NOT_FOUND"},
		{"alice", "M_INVALID_PARAM"},
		{"@:" + testServer, "M_INVALID_PARAM"},
	}
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		e.mustAccount(t, "alice", "")
		for _, tc := range tests {
			_, err := e.api.GetAccount(context.Background(), tc.userID)
			wantErrCode(t, err, tc.wantCode)
		}
	})
}

func TestCheckPassword(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name, userID, password, wantCode string
	}{
		{"right", "@alice:" + testServer, "secret", ""},
		{"wrong", "@alice:" + testServer, "Secret", "M_FORBIDDEN"},
		{"empty", "@alice:" + testServer, "", "M_FORBIDDEN"},
		{"unknown user", "@bob:" + testServer, "secret", "M_FORBIDDEN"},
		{"remote user", "@alice:other.org", "secret", "M_FORBIDDEN"},
		{"not a user ID", "alice", "secret", "M_FORBIDDEN"},
		{"no password set", "@nopw:" + testServer, "", "M_FORBIDDEN"},
		{"deactivated", "@gone:" + testServer, "secret", "M_FORBIDDEN"},
		{"long password", "@long:" + testServer, long, ""},
		{"long password, other prefix", "@long:" + testServer, "y" + long[1:], "M_FORBIDDEN"},
	}
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		e.mustAccount(t, "alice", "secret")
		e.mustAccount(t, "nopw", "")
		e.mustAccount(t, "long", long)
		gone := e.mustAccount(t, "gone", "secret")
		if err := e.api.DeactivateAccount(ctx, gone.UserID); err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a, err := e.api.CheckPassword(ctx, tc.userID, tc.password)
				wantErrCode(t, err, tc.wantCode)
				if tc.wantCode == "" && a.UserID != tc.userID {
					t.Fatalf("account = %+v", a)
				}
			})
		}
	})
}

func TestSetPassword(t *testing.T) {
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		alice := e.mustAccount(t, "alice", "old")
		keep := e.mustDevice(t, alice.UserID, "KEEP")
		drop := e.mustDevice(t, alice.UserID, "DROP")
		// Without logout, every device stays.
		if err := e.api.SetPassword(ctx, alice.UserID, "new", false, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.api.CheckPassword(ctx, alice.UserID, "old"); err == nil {
			t.Fatal("old password still works")
		}
		if _, err := e.api.CheckPassword(ctx, alice.UserID, "new"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.api.QueryAccessToken(ctx, drop.AccessToken); err != nil {
			t.Fatal(err)
		}
		// With logout, all but the current device go.
		if err := e.api.SetPassword(ctx, alice.UserID, "newer", true, keep.DeviceID); err != nil {
			t.Fatal(err)
		}
		_, err := e.api.QueryAccessToken(ctx, drop.AccessToken)
		wantErrCode(t, err, "M_UNKNOWN_TOKEN")
		if _, err := e.api.QueryAccessToken(ctx, keep.AccessToken); err != nil {
			t.Fatal(err)
		}
		wantErrCode(t, e.api.SetPassword(ctx, "@nobody:"+testServer, "x", false, ""), "M_NOT_FOUND")
	})
}

func TestDeactivateAccount(t *testing.T) {
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		alice := e.mustAccount(t, "alice", "pw")
		d1 := e.mustDevice(t, alice.UserID, "")
		d2 := e.mustDevice(t, alice.UserID, "")
		if _, err := e.api.QueryAccessToken(ctx, d1.AccessToken); err != nil { // warm the cache
			t.Fatal(err)
		}
		if err := e.api.DeactivateAccount(ctx, alice.UserID); err != nil {
			t.Fatal(err)
		}
		for _, d := range []*api.Device{d1, d2} {
			_, err := e.api.QueryAccessToken(ctx, d.AccessToken)
			wantErrCode(t, err, "M_UNKNOWN_TOKEN")
		}
		if devs, err := e.api.ListDevices(ctx, alice.UserID); err != nil || len(devs) != 0 {
			t.Fatalf("devices after deactivation = %v, %v", devs, err)
		}
		_, err := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: alice.UserID})
		wantErrCode(t, err, "M_FORBIDDEN")
		a, err := e.api.GetAccount(ctx, alice.UserID)
		if err != nil || !a.Deactivated {
			t.Fatalf("account = %+v, %v", a, err)
		}
		// The profile is kept (erasure is a separate step).
		if p, err := e.api.GetProfile(ctx, alice.UserID); err != nil || p.DisplayName != "alice" {
			t.Fatalf("profile = %+v, %v", p, err)
		}
		wantErrCode(t, e.api.DeactivateAccount(ctx, alice.UserID), "M_NOT_FOUND")
		wantErrCode(t, e.api.SetPassword(ctx, alice.UserID, "again", false, ""), "M_NOT_FOUND")
	})
}

func TestBcryptCost(t *testing.T) {
	for _, cost := range []int{4, 6} {
		t.Run(fmt.Sprint(cost), func(t *testing.T) {
			e := newTestEnv(t, testenv.SQLitePath(t, "cost"), Config{BcryptCost: cost})
			e.mustAccount(t, "alice", "pw")
			var hash string
			if err := e.db.QueryRow(`SELECT password_hash FROM userapi_accounts WHERE localpart = 'alice'`).Scan(&hash); err != nil {
				t.Fatal(err)
			}
			if got, err := bcrypt.Cost([]byte(hash)); err != nil || got != cost {
				t.Fatalf("stored hash cost = %d, %v; want %d", got, err, cost)
			}
		})
	}
	if DefaultConfig().BcryptCost != 12 {
		t.Fatalf("default bcrypt cost = %d, want 12", DefaultConfig().BcryptCost)
	}
}
