package federation

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix/signing"
)

func TestParseXMatrix(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		want    XMatrix
		wantErr bool
	}{
		{"spec example", `X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."`,
			XMatrix{Origin: "origin.hs.example.com", Destination: "destination.hs.example.com", KeyID: "ed25519:key1", Signature: "ABCDEF..."}, false},
		{"unquoted with colons", `X-Matrix origin=example.org:8448,key=ed25519:a_b,sig=YWJj+/x`,
			XMatrix{Origin: "example.org:8448", KeyID: "ed25519:a_b", Signature: "YWJj+/x"}, false},
		{"case, spaces, order", `x-matrix   SIG="s" , Key = "ed25519:k",  ORIGIN="a.example"`,
			XMatrix{Origin: "a.example", KeyID: "ed25519:k", Signature: "s"}, false},
		{"comma and escapes in quotes", `X-Matrix origin="a.example",extra="x,y\"z",key="ed25519:k",sig="s\\"`,
			XMatrix{Origin: "a.example", KeyID: "ed25519:k", Signature: `s\`}, false},
		{"signature alias", `X-Matrix origin=a.example,key=ed25519:k,signature=s`,
			XMatrix{Origin: "a.example", KeyID: "ed25519:k", Signature: "s"}, false},
		{"other scheme", `Bearer abc`, XMatrix{}, true},
		{"missing sig", `X-Matrix origin=a.example,key=ed25519:k`, XMatrix{}, true},
		{"missing origin", `X-Matrix key=ed25519:k,sig=s`, XMatrix{}, true},
		{"unterminated quote", `X-Matrix origin="a.example,key=ed25519:k,sig=s`, XMatrix{}, true},
		{"garbage after quote", `X-Matrix origin="a.example"x,key=ed25519:k,sig=s`, XMatrix{}, true},
		{"no equals", `X-Matrix origin`, XMatrix{}, true},
		{"bad origin", `X-Matrix origin="not a server",key=ed25519:k,sig=s`, XMatrix{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseXMatrix(tt.header)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestXMatrixStringRoundTrip(t *testing.T) {
	x := XMatrix{Origin: "o.example:8448", Destination: "d.example", KeyID: "ed25519:k", Signature: `a"b\c`}
	got, err := ParseXMatrix(x.String())
	if err != nil || got != x {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if !strings.HasPrefix(x.String(), `X-Matrix origin="o.example:8448",destination=`) {
		t.Fatalf("format: %s", x.String())
	}
}

func testKey(t *testing.T, version string) signing.SigningKey {
	t.Helper()
	seed := make([]byte, 32)
	copy(seed, version)
	k, err := signing.KeyFromSeed(signing.NewKeyID(version), seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerifyRequest(t *testing.T) {
	key := testKey(t, "k1")
	other := testKey(t, "k2")
	lookup := func(_ context.Context, server string, id signing.KeyID) (ed25519.PublicKey, error) {
		if server == "origin.example" && id == key.ID {
			return key.Public(), nil
		}
		return nil, errors.New("unknown key")
	}
	body := `{"pdus":[],"edus":[{"edu_type":"m.typing"}]}`
	sign := func(r RequestToSign, k signing.SigningKey) string {
		x, err := r.Sign(k.ID, k.Private)
		if err != nil {
			t.Fatal(err)
		}
		return x.String()
	}
	base := RequestToSign{Method: "PUT", URI: "/_matrix/federation/v1/send/1?x=y", Origin: "origin.example", Destination: "dest.example", Content: []byte(body)}
	good := sign(base, key)
	mod := func(f func(*RequestToSign)) RequestToSign { r := base; f(&r); return r }
	tests := []struct {
		name    string
		method  string
		uri     string
		dest    string
		headers []string
		body    string
		wantErr bool
	}{
		{"round trip", "PUT", base.URI, "dest.example", []string{good}, body, false},
		{"body re-encoded (same canonical JSON)", "PUT", base.URI, "dest.example", []string{good}, `{ "edus":[{"edu_type":"m.typing"}], "pdus":[] }`, false},
		{"one good among several", "PUT", base.URI, "dest.example", []string{sign(base, other), good}, body, false},
		{"tampered body", "PUT", base.URI, "dest.example", []string{good}, `{"pdus":[1],"edus":[]}`, true},
		{"tampered method", "POST", base.URI, "dest.example", []string{good}, body, true},
		{"tampered query", "PUT", "/_matrix/federation/v1/send/1?x=z", "dest.example", []string{good}, body, true},
		{"other destination", "PUT", base.URI, "other.example", []string{good}, body, true},
		{"signed for other destination, header without it", "PUT", base.URI, "dest.example",
			[]string{strings.Replace(sign(mod(func(r *RequestToSign) { r.Destination = "x.example" }), key), `destination="x.example",`, "", 1)}, body, true},
		{"unknown key", "PUT", base.URI, "dest.example", []string{sign(base, other)}, body, true},
		{"no header", "PUT", base.URI, "dest.example", nil, body, true},
		{"bearer only", "PUT", base.URI, "dest.example", []string{"Bearer x"}, body, true},
		{"body not JSON", "PUT", base.URI, "dest.example", []string{good}, `{nope`, true},
		{"mixed origins", "PUT", base.URI, "dest.example", []string{good, strings.Replace(good, "origin.example", "evil.example", 1)}, body, true},
		{"GET without content", "GET", "/_matrix/federation/v1/version", "dest.example",
			[]string{sign(RequestToSign{Method: "GET", URI: "/_matrix/federation/v1/version", Origin: "origin.example", Destination: "dest.example"}, key)}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin, err := VerifyRequest(context.Background(), tt.method, tt.uri, tt.dest, tt.headers, []byte(tt.body), lookup)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				var ae *AuthError
				if !errors.As(err, &ae) {
					t.Fatalf("error %T is not *AuthError", err)
				}
				return
			}
			if origin != "origin.example" {
				t.Fatalf("origin = %q", origin)
			}
		})
	}
}

func TestVerifyHTTPRequest(t *testing.T) {
	key := testKey(t, "k1")
	lookup := func(context.Context, string, signing.KeyID) (ed25519.PublicKey, error) { return key.Public(), nil }
	body := `{"a":1}`
	x, err := RequestToSign{Method: "POST", URI: "/p?q=1", Origin: "o.example", Destination: "d.example", Content: []byte(body)}.Sign(key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/p?q=1", strings.NewReader(body))
	r.Header.Set("Authorization", x.String())
	origin, got, err := VerifyHTTPRequest(r, "d.example", 1024, lookup)
	if err != nil || origin != "o.example" || string(got) != body {
		t.Fatalf("VerifyHTTPRequest = %q, %q, %v", origin, got, err)
	}
	r = httptest.NewRequest("POST", "/p?q=1", strings.NewReader(body))
	r.Header.Set("Authorization", x.String())
	if _, _, err := VerifyHTTPRequest(r, "d.example", 3, lookup); err == nil {
		t.Fatal("oversized body accepted")
	}
}
