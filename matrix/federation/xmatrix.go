package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/signing"
)

// RequestToSign is the JSON object that an X-Matrix signature covers (server-server spec
// "Request Authentication", step 1). Content is the parsed request body, nil for none.
type RequestToSign struct {
	Method      string          `json:"method"`
	URI         string          `json:"uri"`
	Origin      string          `json:"origin"`
	Destination string          `json:"destination"`
	Content     json.RawMessage `json:"content,omitempty"`
}

// SignedBytes returns the canonical JSON the signature covers.
func (r RequestToSign) SignedBytes() ([]byte, error) {
	if len(bytes.TrimSpace(r.Content)) == 0 {
		r.Content = nil
	} else if !json.Valid(r.Content) {
		return nil, errors.New("federation: request content is not JSON")
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return signing.SignedBytes(raw)
}

// XMatrix is one parsed X-Matrix Authorization header.
type XMatrix struct {
	Origin string
	// Destination is "" when the sender left it out (servers older than spec v1.3).
	Destination string
	KeyID       signing.KeyID
	// Signature is the unpadded base64 signature.
	Signature string
}

// String formats the header value the way the spec asks senders to: one space after
// X-Matrix, lower-case names, every value quoted.
func (x XMatrix) String() string {
	return fmt.Sprintf(`X-Matrix origin=%s,destination=%s,key=%s,sig=%s`,
		quote(x.Origin), quote(x.Destination), quote(string(x.KeyID)), quote(x.Signature))
}

func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// Sign signs the request as r.Origin with the given key and returns the Authorization
// header.
func (r RequestToSign) Sign(keyID signing.KeyID, key ed25519.PrivateKey) (XMatrix, error) {
	if len(key) != ed25519.PrivateKeySize {
		return XMatrix{}, errors.New("federation: bad ed25519 private key")
	}
	msg, err := r.SignedBytes()
	if err != nil {
		return XMatrix{}, err
	}
	return XMatrix{
		Origin:      r.Origin,
		Destination: r.Destination,
		KeyID:       keyID,
		Signature:   signing.EncodeBase64(ed25519.Sign(key, msg)),
	}, nil
}

// ParseXMatrix parses an Authorization header value of the X-Matrix scheme (RFC 7235
// syntax as the spec describes it): the scheme name is case-insensitive; parameter names
// are case-insensitive, in any order; values are tokens or quoted strings with backslash
// escapes; for older servers, unquoted values may contain colons. Unknown parameters are
// ignored. origin, key and sig are required.
func ParseXMatrix(header string) (XMatrix, error) {
	scheme, params, ok := strings.Cut(strings.TrimLeft(header, " \t"), " ")
	if !ok || !strings.EqualFold(scheme, "X-Matrix") {
		return XMatrix{}, errors.New("not an X-Matrix authorization header")
	}
	var x XMatrix
	s := strings.TrimLeft(params, " \t")
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return XMatrix{}, fmt.Errorf("X-Matrix: malformed parameter %q", s)
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		if name == "" || strings.ContainsAny(name, " \t,\"") {
			return XMatrix{}, fmt.Errorf("X-Matrix: malformed parameter name %q", s[:eq])
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var value string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i, closed := 1, false
			for ; i < len(s); i++ {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					i++
					b.WriteByte(s[i])
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return XMatrix{}, errors.New("X-Matrix: unterminated quoted value")
			}
			value, s = b.String(), strings.TrimLeft(s[i:], " \t")
			if s != "" && s[0] != ',' {
				return XMatrix{}, fmt.Errorf("X-Matrix: unexpected %q after quoted value", s)
			}
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			value, s = strings.TrimRight(s[:end], " \t"), s[end:]
			if value == "" || strings.ContainsAny(value, " \t\"") {
				return XMatrix{}, fmt.Errorf("X-Matrix: malformed value for %q", name)
			}
		}
		s = strings.TrimLeft(strings.TrimPrefix(s, ","), " \t")
		switch name {
		case "origin":
			x.Origin = value
		case "destination":
			x.Destination = value
		case "key":
			x.KeyID = signing.KeyID(value)
		case "sig", "signature":
			x.Signature = value
		}
	}
	switch {
	case x.Origin == "":
		return XMatrix{}, errors.New("X-Matrix: missing origin")
	case x.KeyID == "":
		return XMatrix{}, errors.New("X-Matrix: missing key")
	case x.Signature == "":
		return XMatrix{}, errors.New("X-Matrix: missing sig")
	}
	if err := matrix.ValidateServerName(x.Origin); err != nil {
		return XMatrix{}, fmt.Errorf("X-Matrix: bad origin: %w", err)
	}
	return x, nil
}

// RequestKeyLookup returns the public key with keyID of serverName that is valid for
// signing requests now (a current verify key, not an old one). The key ring's
// RequestKeyLookup provides one.
type RequestKeyLookup func(ctx context.Context, serverName string, keyID signing.KeyID) (ed25519.PublicKey, error)

// AuthError is why an incoming request's X-Matrix authentication failed. The federationapi
// answers it with 401 and ErrCode (M_UNAUTHORIZED).
type AuthError struct {
	ErrCode string
	Message string
}

// Error implements error.
func (e *AuthError) Error() string { return e.ErrCode + ": " + e.Message }

func unauthorized(format string, args ...any) error {
	return &AuthError{ErrCode: "M_UNAUTHORIZED", Message: fmt.Sprintf(format, args...)}
}

// VerifyRequest checks the X-Matrix authentication of a request received by server
// destination and returns the origin server. body is the request body (nil for none);
// uri is the request target as sent, path and query (http.Request.RequestURI). Every
// X-Matrix header must name the same origin; a header naming another destination is
// refused; one signature that verifies with a current key of the origin is enough.
// Failures are *AuthError.
func VerifyRequest(ctx context.Context, method, uri, destination string, headers []string, body []byte, lookup RequestKeyLookup) (string, error) {
	var auths []XMatrix
	for _, h := range headers {
		if scheme, _, _ := strings.Cut(strings.TrimLeft(h, " \t"), " "); !strings.EqualFold(scheme, "X-Matrix") {
			continue
		}
		x, err := ParseXMatrix(h)
		if err != nil {
			return "", unauthorized("%v", err)
		}
		if len(auths) > 0 && x.Origin != auths[0].Origin {
			return "", unauthorized("X-Matrix headers name different origins")
		}
		if x.Destination != "" && x.Destination != destination {
			return "", unauthorized("request is for %q, not this server", x.Destination)
		}
		auths = append(auths, x)
	}
	if len(auths) == 0 {
		return "", unauthorized("missing X-Matrix authorization")
	}
	if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
		return "", &AuthError{ErrCode: "M_NOT_JSON", Message: "request body is not JSON"}
	}
	origin := auths[0].Origin
	msg, err := RequestToSign{Method: method, URI: uri, Origin: origin, Destination: destination, Content: body}.SignedBytes()
	if err != nil {
		return "", &AuthError{ErrCode: "M_NOT_JSON", Message: err.Error()}
	}
	var lastErr error
	for _, x := range auths {
		if x.KeyID.Algorithm() != signing.AlgorithmEd25519 {
			lastErr = fmt.Errorf("unsupported key algorithm in %q", x.KeyID)
			continue
		}
		sig, err := signing.DecodeBase64(x.Signature)
		if err != nil {
			lastErr = fmt.Errorf("signature is not base64")
			continue
		}
		key, err := lookup(ctx, origin, x.KeyID)
		if err != nil {
			lastErr = fmt.Errorf("key %s of %s: %v", x.KeyID, origin, err)
			continue
		}
		if len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, msg, sig) {
			lastErr = fmt.Errorf("signature with %s does not verify", x.KeyID)
			continue
		}
		return origin, nil
	}
	return "", unauthorized("%v", lastErr)
}

// VerifyHTTPRequest is VerifyRequest for an *http.Request: it reads the body (at most
// maxBody bytes) and puts it back for the handler.
func VerifyHTTPRequest(r *http.Request, destination string, maxBody int64, lookup RequestKeyLookup) (string, []byte, error) {
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return "", nil, err
		}
		if int64(len(body)) > maxBody {
			return "", nil, &AuthError{ErrCode: "M_TOO_LARGE", Message: "request body too large"}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	origin, err := VerifyRequest(r.Context(), r.Method, uri, destination, r.Header.Values("Authorization"), body, lookup)
	return origin, body, err
}
