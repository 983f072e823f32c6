package routing

import (
	"testing"
)

func TestDiscovery(t *testing.T) { forEachImpl(t, testDiscovery) }

func testDiscovery(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")

	r := h.must(h.do("GET", "/_matrix/client/versions", "", nil), 200)
	versions, _ := r.body["versions"].([]any)
	if len(versions) == 0 || versions[len(versions)-1] != "v1.12" {
		t.Fatalf("versions = %v", r.body)
	}

	r = h.must(h.do("GET", "/.well-known/matrix/client", "", nil), 200)
	if hs, _ := r.body["m.homeserver"].(map[string]any); hs["base_url"] != "https://matrix.test.local" {
		t.Fatalf("well-known = %s", r.raw)
	}

	h.must(h.do("GET", "/_matrix/client/v3/capabilities", "", nil), 401, "M_MISSING_TOKEN")
	for _, prefix := range []string{"/_matrix/client/v3", "/_matrix/client/r0"} {
		r = h.must(h.do("GET", prefix+"/capabilities", alice.token, nil), 200)
		caps := r.body["capabilities"].(map[string]any)
		rv := caps["m.room_versions"].(map[string]any)
		if rv["default"] != "10" || len(rv["available"].(map[string]any)) != 12 {
			t.Fatalf("room versions = %v", rv)
		}
		if caps["m.3pid_changes"].(map[string]any)["enabled"] != false || caps["m.change_password"].(map[string]any)["enabled"] != true {
			t.Fatalf("capabilities = %s", r.raw)
		}
	}

	r = h.must(h.do("GET", "/_matrix/client/v3/voip/turnServer", alice.token, nil), 200)
	if len(r.body) != 0 {
		t.Fatalf("turnServer = %s", r.raw)
	}
	r = h.must(h.do("GET", "/_matrix/client/v3/thirdparty/protocols", alice.token, nil), 200)
	if len(r.body) != 0 {
		t.Fatalf("protocols = %s", r.raw)
	}
}

// TestUnknownAndAuthErrors covers the answers every endpoint shares: unknown paths and
// methods, missing and unknown tokens.
func TestUnknownAndAuthErrors(t *testing.T) { forEachImpl(t, testUnknownAndAuthErrors) }

func testUnknownAndAuthErrors(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	cases := []struct {
		name, method, path, token string
		status                    int
		errcode                   string
	}{
		{"unknown path", "GET", "/_matrix/client/v3/no_such_thing", alice.token, 404, "M_UNRECOGNIZED"},
		{"wrong method", "DELETE", "/_matrix/client/v3/account/whoami", alice.token, 405, "M_UNRECOGNIZED"},
		{"missing token", "GET", "/_matrix/client/v3/account/whoami", "", 401, "M_MISSING_TOKEN"},
		{"unknown token", "GET", "/_matrix/client/v3/account/whoami", "nope", 401, "M_UNKNOWN_TOKEN"},
		{"unknown admin path", "GET", "/_synapse/admin/v1/nothing", "", 404, "M_UNRECOGNIZED"},
		{"admin wrong method", "DELETE", "/_synapse/admin/v1/register", "", 405, "M_UNRECOGNIZED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, nil), c.status, c.errcode)
		})
	}
}
