// Package internal is the appservice component's implementation: the topic 2 consumer
// that queues each event for the services interested in it, the per-service senders that
// push the queue as transactions, and AppServiceAPI (arrow 10).
package internal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
)

// Timeouts of the requests to a service.
const (
	transactionTimeout = 60 * time.Second
	pingTimeout        = 15 * time.Second
)

// Bridge makes the homeserver's requests to application services
// (/_matrix/app/v1/…), always to the URL of the admin's registration file and with the
// registration's hs_token as Bearer token (the spec's current version has no
// ?access_token= for these requests). No SSRF guard: bridges usually listen on loopback
// or a private network, and only the registration's URL is ever called.
type Bridge struct {
	HC *http.Client
}

// NewBridge returns a Bridge with its own HTTP client.
func NewBridge() *Bridge {
	return &Bridge{HC: &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}}}
}

// StatusError is a service's answer that was not 2xx.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("application service answered %d: %s", e.Status, e.Body)
}

// endpoint is the service's URL + path (the registration's URL may carry a path).
func endpoint(reg *api.Registration, path string) string {
	return strings.TrimSuffix(*reg.URL, "/") + path
}

// do sends one request with the hs_token and returns the body of a 2xx answer.
func (b *Bridge) do(ctx context.Context, reg *api.Registration, method, path string, body any) ([]byte, error) {
	js, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint(reg, path), bytes.NewReader(js))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+reg.HSToken)
	resp, err := b.HC.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{Status: resp.StatusCode, Body: string(out)}
	}
	return out, nil
}

// Transaction is the body of PUT /_matrix/app/v1/transactions/{txnId}: the events, and
// for services that asked (MSC2409) the ephemeral data under its stable name and its old
// one (as Synapse sends both) and the to-device messages.
type Transaction struct {
	Events       []json.RawMessage `json:"events"`
	Ephemeral    []json.RawMessage `json:"ephemeral,omitempty"`
	EphemeralOld []json.RawMessage `json:"de.sorunome.msc2409.ephemeral,omitempty"`
	ToDevice     []json.RawMessage `json:"de.sorunome.msc2409.to_device,omitempty"`
	DeviceLists  *DeviceLists      `json:"org.matrix.msc3202.device_lists,omitempty"`
	// MSC3202 key counts (keycounts.go): user ID → device ID → algorithm → count, under
	// the MSC's name and the older one (Synapse sends both), and user ID → device ID → the
	// algorithms of its unused fallback keys.
	OTKCounts        map[string]map[string]map[string]int `json:"org.matrix.msc3202.device_one_time_keys_count,omitempty"`
	OTKCountsOld     map[string]map[string]map[string]int `json:"org.matrix.msc3202.device_one_time_key_counts,omitempty"`
	FallbackKeyTypes map[string]map[string][]string       `json:"org.matrix.msc3202.device_unused_fallback_key_types,omitempty"`
}

// DeviceLists is MSC3202's device-list summary: users whose devices changed, and users
// who no longer share a room with the service (devicelistsleft.go).
type DeviceLists struct {
	Changed []string `json:"changed"`
	Left    []string `json:"left"`
}

// add puts user in changed, or in left: the later row of a transaction wins (a user who
// left and came back is changed, one who changed and then left is left).
func (d *DeviceLists) add(user string, left bool) *DeviceLists {
	if d == nil {
		d = &DeviceLists{Changed: []string{}, Left: []string{}}
	}
	drop := func(list []string) []string { return slices.DeleteFunc(list, func(u string) bool { return u == user }) }
	if left {
		d.Changed = drop(d.Changed)
		if !slices.Contains(d.Left, user) {
			d.Left = append(d.Left, user)
		}
	} else {
		d.Left = drop(d.Left)
		if !slices.Contains(d.Changed, user) {
			d.Changed = append(d.Changed, user)
		}
	}
	return d
}

// newTransaction sorts queued rows into a transaction's fields.
func newTransaction(rows []storage.Row) Transaction {
	txn := Transaction{Events: []json.RawMessage{}}
	for _, r := range rows {
		switch r.Kind {
		case storage.KindEphemeral:
			txn.Ephemeral = append(txn.Ephemeral, r.JSON)
		case storage.KindToDevice:
			txn.ToDevice = append(txn.ToDevice, r.JSON)
		case storage.KindDeviceList, storage.KindDeviceListLeft:
			var user string
			if json.Unmarshal(r.JSON, &user) != nil || user == "" {
				continue
			}
			txn.DeviceLists = txn.DeviceLists.add(user, r.Kind == storage.KindDeviceListLeft)
		default:
			txn.Events = append(txn.Events, r.JSON)
		}
	}
	txn.EphemeralOld = txn.Ephemeral
	return txn
}

// SendTransaction pushes one transaction to the service.
func (b *Bridge) SendTransaction(ctx context.Context, reg *api.Registration, txnID string, txn Transaction) error {
	ctx, cancel := context.WithTimeout(ctx, transactionTimeout)
	defer cancel()
	_, err := b.do(ctx, reg, http.MethodPut, "/_matrix/app/v1/transactions/"+url.PathEscape(txnID), txn)
	return err
}

// Ping calls POST /_matrix/app/v1/ping and maps failures to the client API's errors
// (api.AppServiceAPI.Ping).
func (b *Bridge) Ping(ctx context.Context, reg *api.Registration, txnID string) (*api.PingResponse, error) {
	if !reg.HasURL() {
		return nil, urlNotSet()
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	body := map[string]string{}
	if txnID != "" {
		body["transaction_id"] = txnID
	}
	start := time.Now()
	_, err := b.do(ctx, reg, http.MethodPost, "/_matrix/app/v1/ping", body)
	if err != nil {
		return nil, pingError(ctx, err)
	}
	return &api.PingResponse{DurationMS: time.Since(start).Milliseconds()}, nil
}

func pingError(ctx context.Context, err error) error {
	var se *StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return badStatus(se.Status, se.Body)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return connTimeout()
	default:
		return connFailed(err)
	}
}
