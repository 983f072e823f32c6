package signing

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixed seed of the spec appendix "Cryptographic Test Vectors".
const specSeed = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"

func specKey(t testing.TB) SigningKey {
	t.Helper()
	seed, err := DecodeBase64(specSeed)
	if err != nil {
		t.Fatal(err)
	}
	k, err := KeyFromSeed("ed25519:1", seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBase64(t *testing.T) {
	for in, want := range map[string]string{"": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg",
		"fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"} {
		if got := EncodeBase64([]byte(in)); got != want {
			t.Errorf("EncodeBase64(%q) = %q, want %q", in, got, want)
		}
		for _, enc := range []string{want, want + strings.Repeat("=", (4-len(want)%4)%4)} {
			dec, err := DecodeBase64(enc)
			if err != nil || string(dec) != in {
				t.Errorf("DecodeBase64(%q) = %q, %v", enc, dec, err)
			}
		}
	}
	if b, err := DecodeBase64("-_8"); err != nil || !bytes.Equal(b, []byte{0xfb, 0xff}) {
		t.Errorf("URL-safe decode = %x, %v", b, err)
	}
	for _, bad := range []string{"Zm9v!", "+-", "Z"} {
		if _, err := DecodeBase64(bad); err == nil {
			t.Errorf("DecodeBase64(%q) succeeded", bad)
		}
	}
}

// Spec appendix "JSON Signing" vectors, byte for byte.
func TestSignJSONSpecVectors(t *testing.T) {
	key := specKey(t)
	tests := []struct{ in, want string }{
		{`{}`, `{"signatures":{"domain":{"ed25519:1":"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}}`},
		{`{"one": 1, "two": "Two"}`, `{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}`},
	}
	for _, tt := range tests {
		got, err := SignJSON("domain", key.ID, key.Private, []byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("SignJSON(%s) =\n%s\nwant\n%s", tt.in, got, tt.want)
		}
		if err := VerifyJSON("domain", key.ID, key.Public(), got); err != nil {
			t.Errorf("VerifyJSON: %v", err)
		}
	}
}

func TestSignKeepsUnsignedAndOtherSignatures(t *testing.T) {
	key := specKey(t)
	in := `{"name":"example.org","unsigned":{"age_ts":922834800000},"signatures":{"other.org":{"ed25519:x":"abc"}}}`
	got, err := SignJSON("domain", key.ID, key.Private, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`"unsigned":{"age_ts":922834800000}`, `"other.org":{"ed25519:x":"abc"}`, `"domain":{"ed25519:1":`} {
		if !strings.Contains(string(got), part) {
			t.Errorf("signed JSON %s lacks %s", got, part)
		}
	}
	// unsigned is not covered: changing it keeps the signature valid.
	changed := strings.Replace(string(got), "922834800000", "1", 1)
	if err := VerifyJSON("domain", key.ID, key.Public(), []byte(changed)); err != nil {
		t.Errorf("changing unsigned broke the signature: %v", err)
	}
}

func TestVerifyJSON(t *testing.T) {
	key := specKey(t)
	signed, err := SignJSON("domain", key.ID, key.Private, []byte(`{"a":1,"b":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateKey("2", nil)
	tests := []struct {
		name    string
		entity  string
		keyID   KeyID
		pub     []byte
		message string
		wantErr error
	}{
		{"ok", "domain", key.ID, key.Public(), string(signed), nil},
		{"reordered and spaced", "domain", key.ID, key.Public(), strings.Replace(string(signed), `{"a":1,`, `{ "a" : 1 , `, 1), nil},
		{"tampered", "domain", key.ID, key.Public(), strings.Replace(string(signed), `"x"`, `"y"`, 1), ErrBadSignature},
		{"wrong key", "domain", key.ID, other.Public(), string(signed), ErrBadSignature},
		{"wrong entity", "elsewhere", key.ID, key.Public(), string(signed), ErrNoSignature},
		{"wrong key id", "domain", "ed25519:2", key.Public(), string(signed), ErrNoSignature},
		{"unknown algorithm", "domain", "curve25519:1", key.Public(), string(signed), nil},
		{"not json", "domain", key.ID, key.Public(), `{`, nil},
		{"bad base64", "domain", key.ID, key.Public(), `{"signatures":{"domain":{"ed25519:1":"!!"}}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyJSON(tt.entity, tt.keyID, tt.pub, []byte(tt.message))
			if tt.name == "ok" || tt.name == "reordered and spaced" {
				if err != nil {
					t.Fatalf("VerifyJSON: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("VerifyJSON succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifyJSON = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignatureKeyIDs(t *testing.T) {
	ids, err := SignatureKeyIDs("d", []byte(`{"signatures":{"d":{"ed25519:b":"x","ed25519:a":"y","curve:z":"q"},"e":{"ed25519:c":"z"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != "ed25519:a" || ids[1] != "ed25519:b" {
		t.Errorf("SignatureKeyIDs = %v", ids)
	}
}

func TestKeyID(t *testing.T) {
	tests := []struct {
		id      KeyID
		alg, v  string
		isValid bool
	}{
		{"ed25519:1", "ed25519", "1", true},
		{"ed25519:a_AbC9", "ed25519", "a_AbC9", true},
		{"ed25519:", "ed25519", "", false},
		{"ed25519:a-b", "ed25519", "a-b", false},
		{"curve25519:1", "curve25519", "1", false},
		{"nocolon", "", "", false},
	}
	for _, tt := range tests {
		if tt.id.Algorithm() != tt.alg || tt.id.Version() != tt.v || (tt.id.Validate() == nil) != tt.isValid {
			t.Errorf("%q: alg=%q version=%q validate=%v", tt.id, tt.id.Algorithm(), tt.id.Version(), tt.id.Validate())
		}
	}
}

func TestKeyFile(t *testing.T) {
	key := specKey(t)
	text := FormatKeyFile(key)
	// The spec's seed string has non-zero padding bits; its canonical encoding ends in "A0".
	if string(text) != "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n" {
		t.Fatalf("FormatKeyFile = %q", text)
	}
	keys, err := ParseKeyFile([]byte("# comment\n\n" + string(text)))
	if err != nil || len(keys) != 1 || keys[0].ID != key.ID || !bytes.Equal(keys[0].Private, key.Private) {
		t.Fatalf("ParseKeyFile = %v, %v", keys, err)
	}
	for _, bad := range []string{"", "ed25519 1", "rsa 1 " + specSeed, "ed25519 1 !!!", "ed25519 1 Zm9v", "ed25519 a-b " + specSeed} {
		if _, err := ParseKeyFile([]byte(bad)); err == nil {
			t.Errorf("ParseKeyFile(%q) succeeded", bad)
		}
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "matrix_key.pem")
	generated, err := LoadOrGenerateKeyFile(path)
	if err != nil || len(generated) != 1 {
		t.Fatalf("LoadOrGenerateKeyFile: %v", err)
	}
	if err := generated[0].ID.Validate(); err != nil {
		t.Errorf("generated key ID: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi, err)
	}
	again, err := LoadOrGenerateKeyFile(path)
	if err != nil || !bytes.Equal(again[0].Private, generated[0].Private) || again[0].ID != generated[0].ID {
		t.Fatalf("second load gave a different key: %v", err)
	}
	if err := WriteKeyFile(path, key); err == nil {
		t.Error("WriteKeyFile overwrote an existing file")
	}
	os.WriteFile(filepath.Join(dir, "bad"), []byte("garbage"), 0o600)
	if _, err := LoadOrGenerateKeyFile(filepath.Join(dir, "bad")); err == nil {
		t.Error("LoadOrGenerateKeyFile accepted a corrupt file")
	}
}
