// Package federation is the server-server half of Axon's Matrix library: X-Matrix request
// authentication (xmatrix.go), the federation HTTP client with its signing and discovering
// Transport (client.go, transport.go) and one method per server-server endpoint the
// project uses (send.go, joins.go, events.go, queries.go, e2ekeys.go, publicrooms.go,
// serverkeys.go), with request/response types from the spec's server-server OpenAPI files.
//
// Server discovery lives in matrix/federation/discovery and the signing-key ring in
// matrix/federation/keyring. The federationsender (topics 5 and 6 of ARCHITECTURE.md §2)
// and the federationapi (arrows 3, 8 and 11) are the components built on this package; the
// serverkeyapi (arrows 11–13) builds on the key ring.
package federation
