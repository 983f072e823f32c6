package routing

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// eventFilter and roomFilter mirror the spec's Filter shapes so that a field of the wrong
// type is M_BAD_JSON when the filter is uploaded, not a surprise at /sync time.
type eventFilter struct {
	Limit      *int     `json:"limit"`
	NotSenders []string `json:"not_senders"`
	NotTypes   []string `json:"not_types"`
	Senders    []string `json:"senders"`
	Types      []string `json:"types"`
}

type roomEventFilter struct {
	eventFilter
	LazyLoadMembers         *bool    `json:"lazy_load_members"`
	IncludeRedundantMembers *bool    `json:"include_redundant_members"`
	NotRooms                []string `json:"not_rooms"`
	Rooms                   []string `json:"rooms"`
	ContainsURL             *bool    `json:"contains_url"`
	UnreadThreadNotifs      *bool    `json:"unread_thread_notifications"`
}

type filterBody struct {
	EventFields []string     `json:"event_fields"`
	EventFormat string       `json:"event_format"`
	Presence    *eventFilter `json:"presence"`
	AccountData *eventFilter `json:"account_data"`
	Room        *struct {
		NotRooms     []string         `json:"not_rooms"`
		Rooms        []string         `json:"rooms"`
		Ephemeral    *roomEventFilter `json:"ephemeral"`
		IncludeLeave *bool            `json:"include_leave"`
		State        *roomEventFilter `json:"state"`
		Timeline     *roomEventFilter `json:"timeline"`
		AccountData  *roomEventFilter `json:"account_data"`
	} `json:"room"`
}

func (rt *Routes) filterOwner(r *http.Request, dev *userapi.Device) error {
	userID := mux.Vars(r)["userId"]
	if _, _, err := parseUserID(userID); err != nil {
		return err
	}
	if userID != dev.UserID {
		return httputil.Forbidden("Cannot access filters of other users")
	}
	return nil
}

// postFilter serves POST /user/{userId}/filter.
func (rt *Routes) postFilter(r *http.Request, dev *userapi.Device) (any, error) {
	if err := rt.filterOwner(r, dev); err != nil {
		return nil, err
	}
	raw, me := httputil.ReadBody(r, contentLimit)
	if me != nil {
		return nil, me
	}
	var f filterBody
	if me := httputil.DecodeJSONObject(raw, &f); me != nil {
		return nil, me
	}
	if f.EventFormat != "" && f.EventFormat != "client" && f.EventFormat != "federation" {
		return nil, httputil.BadJSON("event_format must be client or federation")
	}
	id, err := rt.userAPI.PutFilter(r.Context(), dev.UserID, raw)
	if err != nil {
		return nil, err
	}
	return map[string]string{"filter_id": id}, nil
}

// getFilter serves GET /user/{userId}/filter/{filterId}.
func (rt *Routes) getFilter(r *http.Request, dev *userapi.Device) (any, error) {
	if err := rt.filterOwner(r, dev); err != nil {
		return nil, err
	}
	f, err := rt.userAPI.GetFilter(r.Context(), dev.UserID, mux.Vars(r)["filterId"])
	if err != nil {
		return nil, err
	}
	return json.RawMessage(f), nil
}
