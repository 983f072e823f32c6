package routing

import (
	"mime"
	"net/http"
	"strings"
)

// inlineTypes are the media types a browser may show in place (Content-Disposition:
// inline): images, audio, video and plain text that run no script. Everything else —
// HTML, SVG, XML, PDF, JavaScript, unknown types — is sent as an attachment.
var inlineTypes = map[string]bool{
	"text/plain": true, "text/csv": true, "text/css": true,
	"application/json": true, "application/ld+json": true,
	"image/jpeg": true, "image/gif": true, "image/png": true, "image/apng": true, "image/webp": true, "image/avif": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
	"audio/mp4": true, "audio/webm": true, "audio/aac": true, "audio/mpeg": true, "audio/ogg": true,
	"audio/wave": true, "audio/wav": true, "audio/x-wav": true, "audio/x-pn-wav": true,
	"audio/flac": true, "audio/x-flac": true,
}

// contentSecurityPolicy keeps served media from running anything even when a browser
// opens it as a page: a sandbox with no script, no plugin and no fetch beyond the media
// itself.
const contentSecurityPolicy = "sandbox; default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; " +
	"media-src 'self'; object-src 'none'"

// setSafetyHeaders sets the headers every media response carries, errors included.
func setSafetyHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
}

// inline says whether contentType may be shown in place.
func inline(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && inlineTypes[strings.ToLower(mt)]
}

// contentDisposition is the Content-Disposition of a download of contentType named name
// (the name may be empty): inline for the safe types, attachment otherwise; a name that
// needs it is encoded (RFC 2231 filename*), never pasted in raw.
func contentDisposition(contentType, name string) string {
	disp := "attachment"
	if inline(contentType) {
		disp = "inline"
	}
	if name == "" {
		return disp
	}
	if v := mime.FormatMediaType(disp, map[string]string{"filename": name}); v != "" {
		return v
	}
	return disp
}
