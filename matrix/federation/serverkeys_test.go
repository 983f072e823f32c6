package federation

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix/signing"
)

// signedKeys builds a key response for server listing key, signed by signer.
func signedKeys(t *testing.T, server string, key, signer signing.SigningKey, extra string) []byte {
	t.Helper()
	raw := `{"server_name":"` + server + `","valid_until_ts":1700000000000,"verify_keys":{"` + string(key.ID) +
		`":{"key":"` + signing.EncodeBase64(key.Public()) + `"}}` + extra + `}`
	out, err := signing.SignJSON(server, signer.ID, signer.Private, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseAndVerifyServerKeys(t *testing.T) {
	k, other := testKey(t, "k"), testKey(t, "other")
	tests := []struct {
		name        string
		raw         []byte
		parseErr    bool
		selfSignErr bool
	}{
		{"valid", signedKeys(t, "s.example", k, k, ""), false, false},
		{"with old key", signedKeys(t, "s.example", k, k, `,"old_verify_keys":{"ed25519:o":{"key":"`+signing.EncodeBase64(other.Public())+`","expired_ts":5}}`), false, false},
		{"signed by unlisted key", signedKeys(t, "s.example", k, other, ""), false, true},
		{"other algorithm ignored", signedKeys(t, "s.example", k, k, `,"old_verify_keys":{"curve25519:x":{"key":"AAAA","expired_ts":5}}`), false, false},
		{"short key", []byte(`{"server_name":"s.example","valid_until_ts":1,"verify_keys":{"ed25519:a":{"key":"AAAA"}},"signatures":{"s.example":{"ed25519:a":"x"}}}`), true, false},
		{"bad key ID", []byte(`{"server_name":"s.example","valid_until_ts":1,"verify_keys":{"ed25519:a-b":{"key":"` + signing.EncodeBase64(k.Public()) + `"}},"signatures":{"s.example":{"ed25519:a-b":"x"}}}`), true, false},
		{"bad base64", []byte(`{"server_name":"s.example","valid_until_ts":1,"verify_keys":{"ed25519:a":{"key":"!!"}},"signatures":{"s.example":{}}}`), true, false},
		{"no valid_until_ts", []byte(`{"server_name":"s.example","verify_keys":{},"signatures":{"s.example":{}}}`), true, false},
		{"bad server name", []byte(`{"server_name":"a b","valid_until_ts":1,"verify_keys":{},"signatures":{"a b":{}}}`), true, false},
		{"unsigned", []byte(`{"server_name":"s.example","valid_until_ts":1,"verify_keys":{}}`), true, false},
		{"not an object", []byte(`[]`), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseServerKeys(tt.raw)
			if (err != nil) != tt.parseErr {
				t.Fatalf("parse err = %v, want error %v", err, tt.parseErr)
			}
			if err != nil {
				return
			}
			if err := keys.VerifySelfSigned(); (err != nil) != tt.selfSignErr {
				t.Fatalf("VerifySelfSigned = %v, want error %v", err, tt.selfSignErr)
			}
		})
	}
}

func TestGetServerKeys(t *testing.T) {
	c, remote := newTestClient(t)
	k := testKey(t, "k")
	tests := []struct {
		name    string
		body    []byte
		wantErr string
	}{
		{"own keys", signedKeys(t, "remote.example", k, k, ""), ""},
		{"keys of another server", signedKeys(t, "evil.example", k, k, ""), "evil.example"},
		{"not self-signed", signedKeys(t, "remote.example", k, testKey(t, "x"), ""), "no signature"},
		{"tampered", []byte(strings.Replace(string(signedKeys(t, "remote.example", k, k, "")), "1700000000000", "1800000000000", 1)), "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote.setHandler(func(w http.ResponseWriter, _ recorded) { w.Write(tt.body) })
			keys, err := c.GetServerKeys(context.Background(), "remote.example")
			if tt.wantErr == "" {
				if err != nil || keys.VerifyKeys[k.ID].Key == nil {
					t.Fatalf("GetServerKeys = %+v, %v", keys, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestQueryServerKeys(t *testing.T) {
	c, remote := newTestClient(t)
	k := testKey(t, "k")
	remote.setHandler(func(w http.ResponseWriter, _ recorded) {
		io.WriteString(w, `{"server_keys":[`+string(signedKeys(t, "a.example", k, k, ""))+`,{"junk":true}]}`)
	})
	keys, err := c.QueryServerKeys(context.Background(), "remote.example", KeyQueryRequest{ServerKeys: map[string]map[signing.KeyID]KeyCriteria{
		"a.example": {k.ID: {MinimumValidUntilTS: 42}}, "b.example": {},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ServerName != "a.example" {
		t.Fatalf("keys = %+v (the junk entry must be dropped)", keys)
	}
	got := remote.last(t).Body
	if canonical(t, got) != `{"server_keys":{"a.example":{"ed25519:k":{"minimum_valid_until_ts":42}},"b.example":{}}}` {
		t.Fatalf("request body %s", got)
	}
}
