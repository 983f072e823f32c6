package proxy

import (
	"strings"

	syncapi "github.com/axon-matrix/axon/syncapi/api"
)

// Kind names a kind of Tier 1 upstream (ARCHITECTURE.md §1).
type Kind string

// The upstream kinds, one per Tier 1 component the proxy fronts.
const (
	KindClient     Kind = "client"
	KindSync       Kind = "sync"
	KindMedia      Kind = "media"
	KindFederation Kind = "federation"
)

// Kinds lists every kind, in a fixed order.
var Kinds = []Kind{KindClient, KindSync, KindMedia, KindFederation}

// Route returns which kind of upstream serves escapedPath (a request's
// url.URL.EscapedPath()): the syncapi's public paths (syncapi/api.IsSyncPath, the list
// the syncapi's own routes are tested against) go to sync; /_matrix/media and the
// authenticated /_matrix/client/v1/media and /_matrix/federation/v1/media (the files are
// the mediaapi's) to media; the rest of /_matrix/federation and /_matrix/key to
// federation; everything else, including paths no component serves, to the clientapi,
// which answers those with 404 M_UNRECOGNIZED.
func Route(escapedPath string) Kind {
	switch {
	case syncapi.IsSyncPath(escapedPath):
		return KindSync
	case under(escapedPath, "/_matrix/media"), under(escapedPath, "/_matrix/client/v1/media"),
		under(escapedPath, "/_matrix/federation/v1/media"): // the mediaapi serves federation media itself
		return KindMedia
	case under(escapedPath, "/_matrix/federation"), under(escapedPath, "/_matrix/key"):
		return KindFederation
	}
	return KindClient
}

// under reports whether path is prefix or below it (prefix + "/…").
func under(path, prefix string) bool {
	rest, ok := strings.CutPrefix(path, prefix)
	return ok && (rest == "" || rest[0] == '/')
}
