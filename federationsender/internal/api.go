// Package internal is the federationsender's direct implementation: remote joins (arrow
// 17, make_join/send_join with the answer verified through the serverkeyapi, arrow 12)
// and the outbound queue fed by topic 6 (Consumer → Queues → PUT /send).
package internal

import (
	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// API implements api.FederationSenderAPI.
type API struct {
	ServerName string
	Key        signing.SigningKey
	Client     *federation.Client
	// Keys is the serverkeyapi (arrow 12): other servers' keys for the send_join answer.
	Keys   skapi.ServerKeyAPI
	Queues *Queues
	// directory remembers remote alias lookups briefly (arrow 7, contact.go).
	directory directoryCache
	// hierarchy remembers other servers' /hierarchy answers briefly (arrow 7, rooms.go).
	hierarchy hierarchyCache
}

var _ api.FederationSenderAPI = (*API)(nil)
