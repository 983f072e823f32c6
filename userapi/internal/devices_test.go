package internal

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/userapi/api"
)

var deviceIDPattern = regexp.MustCompile(`^[A-Z]{10}$`)

func TestCreateDeviceAndQueryAccessToken(t *testing.T) {
	for _, cache := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Minute}, {"uncached", -1}} {
		t.Run(cache.name, func(t *testing.T) {
			forEachDB(t, Config{TokenCacheTTL: cache.ttl}, func(t *testing.T, e *testEnv) {
				ctx := context.Background()
				alice := e.mustAccount(t, "alice", "")
				d, err := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: alice.UserID, DisplayName: "phone", IP: "10.1.1.1"})
				if err != nil {
					t.Fatal(err)
				}
				if !deviceIDPattern.MatchString(d.DeviceID) {
					t.Fatalf("generated device ID %q is not 10 uppercase letters", d.DeviceID)
				}
				if len(d.AccessToken) < 43 {
					t.Fatalf("access token %q is too short", d.AccessToken)
				}
				for range 2 { // the second lookup may come from the cache
					got, err := e.api.QueryAccessToken(ctx, d.AccessToken)
					if err != nil {
						t.Fatal(err)
					}
					want := api.Device{UserID: alice.UserID, DeviceID: d.DeviceID, DisplayName: "phone",
						LastSeenTS: e.clock.Now().UnixMilli(), LastSeenIP: "10.1.1.1", AccountType: api.AccountTypeUser}
					if *got != want {
						t.Fatalf("QueryAccessToken = %+v, want %+v", got, want)
					}
				}
				for _, bad := range []string{"", "nope", d.AccessToken + "x", strings.ToUpper(d.AccessToken)} {
					_, err := e.api.QueryAccessToken(ctx, bad)
					wantErrCode(t, err, "M_UNKNOWN_TOKEN")
				}
				// Tokens are stored only as hashes.
				var n int
				if err := e.db.QueryRow(`SELECT COUNT(*) FROM userapi_devices WHERE access_token_hash = $1`, d.AccessToken).Scan(&n); err != nil || n != 0 {
					t.Fatalf("plain token found in the table (%d, %v)", n, err)
				}

				// Logging in again with the same device ID replaces its token and keeps its name.
				again, err := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: alice.UserID, DeviceID: d.DeviceID})
				if err != nil {
					t.Fatal(err)
				}
				if again.DeviceID != d.DeviceID || again.DisplayName != "phone" || again.AccessToken == d.AccessToken {
					t.Fatalf("re-login = %+v", again)
				}
				_, err = e.api.QueryAccessToken(ctx, d.AccessToken)
				wantErrCode(t, err, "M_UNKNOWN_TOKEN")
				if _, err := e.api.QueryAccessToken(ctx, again.AccessToken); err != nil {
					t.Fatal(err)
				}
				if devs, _ := e.api.ListDevices(ctx, alice.UserID); len(devs) != 1 {
					t.Fatalf("devices = %+v, want one", devs)
				}
				// A re-login with a new name renames the device.
				renamed, err := e.api.CreateDevice(ctx, &api.CreateDeviceRequest{UserID: alice.UserID, DeviceID: d.DeviceID, DisplayName: "tablet"})
				if err != nil || renamed.DisplayName != "tablet" {
					t.Fatalf("re-login with name = %+v, %v", renamed, err)
				}
			})
		})
	}
}

func TestCreateDeviceErrors(t *testing.T) {
	tests := []struct {
		name     string
		req      api.CreateDeviceRequest
		wantCode string
	}{
		{"unknown user", api.CreateDeviceRequest{UserID: "@nobody:" + testServer}, "M_NOT_FOUND"},
		{"remote user", api.CreateDeviceRequest{UserID: "@alice:other.org"}, "M_NOT_FOUND"},
		{"bad user ID", api.CreateDeviceRequest{UserID: "alice"}, "M_INVALID_PARAM"},
		{"device ID too long", api.CreateDeviceRequest{UserID: "@alice:" + testServer, DeviceID: strings.Repeat("D", 513)}, "M_INVALID_PARAM"},
		{"client-chosen device ID", api.CreateDeviceRequest{UserID: "@alice:" + testServer, DeviceID: "my device"}, ""},
	}
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		e.mustAccount(t, "alice", "")
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				req := tc.req
				_, err := e.api.CreateDevice(context.Background(), &req)
				wantErrCode(t, err, tc.wantCode)
			})
		}
	})
}

func TestDeviceManagement(t *testing.T) {
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		alice := e.mustAccount(t, "alice", "")
		bob := e.mustAccount(t, "bob", "")
		a1 := e.mustDevice(t, alice.UserID, "A1")
		a2 := e.mustDevice(t, alice.UserID, "A2")
		a3 := e.mustDevice(t, alice.UserID, "A3")
		b1 := e.mustDevice(t, bob.UserID, "A1") // same ID, other user
		for _, d := range []*api.Device{a1, a2, a3, b1} {
			if _, err := e.api.QueryAccessToken(ctx, d.AccessToken); err != nil { // warm the cache
				t.Fatal(err)
			}
		}

		devs, err := e.api.ListDevices(ctx, alice.UserID)
		if err != nil || len(devs) != 3 || devs[0].DeviceID != "A1" || devs[2].DeviceID != "A3" || devs[0].AccessToken != "" {
			t.Fatalf("ListDevices = %+v, %v", devs, err)
		}
		if err := e.api.UpdateDevice(ctx, alice.UserID, "A1", "laptop"); err != nil {
			t.Fatal(err)
		}
		got, err := e.api.GetDevice(ctx, alice.UserID, "A1")
		if err != nil || got.DisplayName != "laptop" {
			t.Fatalf("GetDevice = %+v, %v", got, err)
		}
		if q, err := e.api.QueryAccessToken(ctx, a1.AccessToken); err != nil || q.DisplayName != "laptop" {
			t.Fatalf("QueryAccessToken after rename = %+v, %v", q, err)
		}
		wantErrCode(t, e.api.UpdateDevice(ctx, alice.UserID, "NOPE", "x"), "M_NOT_FOUND")
		_, err = e.api.GetDevice(ctx, alice.UserID, "NOPE")
		wantErrCode(t, err, "M_NOT_FOUND")
		_, err = e.api.GetDevice(ctx, "@nobody:"+testServer, "A1")
		wantErrCode(t, err, "M_NOT_FOUND")

		// DeleteDevices ignores unknown IDs and touches only the given user.
		if err := e.api.DeleteDevices(ctx, alice.UserID, []string{"A1", "NOPE"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.api.QueryAccessToken(ctx, a1.AccessToken)
		wantErrCode(t, err, "M_UNKNOWN_TOKEN")
		if _, err := e.api.QueryAccessToken(ctx, b1.AccessToken); err != nil {
			t.Fatalf("bob's A1 went with alice's: %v", err)
		}

		// DeleteAllDevices keeps the excepted device.
		if err := e.api.DeleteAllDevices(ctx, alice.UserID, "A3"); err != nil {
			t.Fatal(err)
		}
		_, err = e.api.QueryAccessToken(ctx, a2.AccessToken)
		wantErrCode(t, err, "M_UNKNOWN_TOKEN")
		if _, err := e.api.QueryAccessToken(ctx, a3.AccessToken); err != nil {
			t.Fatal(err)
		}
		if err := e.api.DeleteAllDevices(ctx, alice.UserID, ""); err != nil {
			t.Fatal(err)
		}
		_, err = e.api.QueryAccessToken(ctx, a3.AccessToken)
		wantErrCode(t, err, "M_UNKNOWN_TOKEN")
	})
}

func TestLastSeen(t *testing.T) {
	forEachDB(t, Config{LastSeenInterval: 5 * time.Minute}, func(t *testing.T, e *testEnv) {
		alice := e.mustAccount(t, "alice", "")
		d := e.mustDevice(t, alice.UserID, "D") // seen at login, from 10.0.0.1
		login := e.clock.Now().UnixMilli()
		lastSeen := func() (int64, string) {
			var ts int64
			var ip string
			if err := e.db.QueryRow(`SELECT last_seen_ts, last_seen_ip FROM userapi_devices WHERE device_id = 'D'`).Scan(&ts, &ip); err != nil {
				t.Fatal(err)
			}
			return ts, ip
		}
		steps := []struct {
			advance time.Duration
			ip      string
			wantTS  int64
			wantIP  string
		}{
			{time.Minute, "10.0.0.2", login, "10.0.0.1"},                                        // too soon: no write
			{3 * time.Minute, "10.0.0.3", login, "10.0.0.1"},                                    // still within 5 minutes
			{2 * time.Minute, "10.0.0.4", login + (6 * time.Minute).Milliseconds(), "10.0.0.4"}, // written
			{time.Minute, "10.0.0.5", login + (6 * time.Minute).Milliseconds(), "10.0.0.4"},
			{10 * time.Minute, "", login + (17 * time.Minute).Milliseconds(), "10.0.0.4"}, // no IP known: keep the old
		}
		for i, s := range steps {
			e.clock.Add(s.advance)
			ctx := api.WithClientIP(context.Background(), s.ip)
			got, err := e.api.QueryAccessToken(ctx, d.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			ts, ip := lastSeen()
			if ts != s.wantTS || ip != s.wantIP {
				t.Fatalf("step %d: stored last seen = %d %q, want %d %q", i, ts, ip, s.wantTS, s.wantIP)
			}
			if got.LastSeenTS != ts || got.LastSeenIP != ip {
				t.Fatalf("step %d: returned last seen = %d %q, stored %d %q", i, got.LastSeenTS, got.LastSeenIP, ts, ip)
			}
		}
	})
}

func TestTokenCacheExpiryAndRace(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	c := newTokenCache(time.Minute, 3, clock.Now)
	// A lookup that read the database before a forget must not refill the cache.
	_, _, gen := c.get("h1")
	c.forget("h1")
	c.put("h1", cachedTestDevice("D1"), gen)
	if _, hit, _ := c.get("h1"); hit {
		t.Fatal("a stale lookup refilled the cache after forget")
	}
	// Entries expire after the TTL.
	_, _, gen = c.get("h2")
	c.put("h2", cachedTestDevice("D2"), gen)
	if _, hit, _ := c.get("h2"); !hit {
		t.Fatal("fresh entry missing")
	}
	clock.Add(time.Minute)
	if _, hit, _ := c.get("h2"); hit {
		t.Fatal("entry outlived its TTL")
	}
	// The size cap holds.
	for _, h := range []string{"a", "b", "c", "d", "e"} {
		_, _, gen := c.get(h)
		c.put(h, cachedTestDevice(h), gen)
	}
	if len(c.entries) > 3 {
		t.Fatalf("cache holds %d entries, cap 3", len(c.entries))
	}
	// forgetDevice drops every token of one device.
	c.forgetDevice("alice", "e")
	if _, hit, _ := c.get("e"); hit {
		t.Fatal("forgetDevice left the device cached")
	}
}
