package federation

import (
	"context"
	"encoding/json"
	"net/http"
)

// Transaction is the envelope of PDUs and EDUs between two servers (PUT /send/{txnId}),
// also the answer format of /backfill and /event.
type Transaction struct {
	Origin         string `json:"origin"`
	OriginServerTS int64  `json:"origin_server_ts"`
	// PDUs are events in the federation format of their room's version; the receiver parses
	// them with matrix/event once it knows the room version. At most 50 per transaction.
	PDUs []json.RawMessage `json:"pdus"`
	// EDUs are at most 100 per transaction.
	EDUs []EDU `json:"edus,omitempty"`
}

// EDU is an ephemeral data unit (typing, receipts, presence, to-device, device lists).
type EDU struct {
	Type    string          `json:"edu_type"`
	Content json.RawMessage `json:"content"`
}

// PDUResult is the receiver's verdict on one PDU of a transaction; Error is empty when it
// was accepted.
type PDUResult struct {
	Error string `json:"error,omitempty"`
}

// SendTransactionResponse maps event IDs to their results.
type SendTransactionResponse struct {
	PDUs map[string]PDUResult `json:"pdus"`
}

// Limits of one transaction (server-server spec "Transactions").
const (
	MaxTransactionPDUs = 50
	MaxTransactionEDUs = 100
)

// SendTransaction sends PUT /_matrix/federation/v1/send/{txnId} (topics 5 and 6 of
// ARCHITECTURE.md §2 end here, in the federationsender).
func (c *Client) SendTransaction(ctx context.Context, destination, txnID string, txn Transaction) (SendTransactionResponse, error) {
	if txn.PDUs == nil {
		txn.PDUs = []json.RawMessage{}
	}
	var out SendTransactionResponse
	err := c.Do(ctx, destination, http.MethodPut, fedPath("/_matrix/federation/v1/send/%s", txnID), nil, txn, &out)
	return out, err
}
