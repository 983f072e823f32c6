package routing

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Room tags are the m.tag room account data, so /sync (topic 1) carries them.

// tagsContent is the content of an m.tag event.
type tagsContent struct {
	Tags map[string]map[string]any `json:"tags"`
}

func (rt *Routes) loadTags(r *http.Request, userID, roomID string) (*tagsContent, error) {
	raw, err := rt.userAPI.GetAccountData(r.Context(), userID, roomID, "m.tag")
	c := &tagsContent{}
	if err != nil {
		if httputil.AsMatrixError(err).ErrCode == "M_NOT_FOUND" {
			c.Tags = map[string]map[string]any{}
			return c, nil
		}
		return nil, err
	}
	if err := json.Unmarshal(raw, c); err != nil || c.Tags == nil {
		c.Tags = map[string]map[string]any{}
	}
	return c, nil
}

func (rt *Routes) saveTags(r *http.Request, userID, roomID string, c *tagsContent) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return rt.userAPI.SetAccountData(r.Context(), &userapi.AccountData{UserID: userID, RoomID: roomID, Type: "m.tag", Content: raw})
}

// tagTarget checks the path: only your own tags, a valid room ID and tag name.
func tagTarget(r *http.Request, dev *userapi.Device) (roomID, tag string, err error) {
	v := mux.Vars(r)
	if _, _, err := parseUserID(v["userId"]); err != nil {
		return "", "", err
	}
	if v["userId"] != dev.UserID {
		return "", "", httputil.Forbidden("Cannot access the tags of other users")
	}
	if err := checkRoomID(v["roomId"]); err != nil {
		return "", "", err
	}
	if tag, ok := v["tag"]; ok && (tag == "" || len(tag) > maxIDLength) {
		return "", "", httputil.InvalidParam("Invalid tag name")
	}
	return v["roomId"], v["tag"], nil
}

// getTags serves GET /user/{userId}/rooms/{roomId}/tags.
func (rt *Routes) getTags(r *http.Request, dev *userapi.Device) (any, error) {
	roomID, _, err := tagTarget(r, dev)
	if err != nil {
		return nil, err
	}
	return rt.loadTags(r, dev.UserID, roomID)
}

// putTag serves PUT /user/{userId}/rooms/{roomId}/tags/{tag}.
func (rt *Routes) putTag(r *http.Request, dev *userapi.Device) (any, error) {
	roomID, tag, err := tagTarget(r, dev)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	if err := readJSON(r, contentLimit, &body); err != nil {
		return nil, err
	}
	if o, ok := body["order"]; ok {
		if _, isNumber := o.(float64); !isNumber {
			return nil, httputil.BadJSON("order must be a number")
		}
	}
	defer rt.lockUser(dev.UserID)()
	c, err := rt.loadTags(r, dev.UserID, roomID)
	if err != nil {
		return nil, err
	}
	c.Tags[tag] = body
	return empty, rt.saveTags(r, dev.UserID, roomID, c)
}

// deleteTag serves DELETE /user/{userId}/rooms/{roomId}/tags/{tag}; removing a tag the
// room does not have succeeds (the result is the same).
func (rt *Routes) deleteTag(r *http.Request, dev *userapi.Device) (any, error) {
	roomID, tag, err := tagTarget(r, dev)
	if err != nil {
		return nil, err
	}
	defer rt.lockUser(dev.UserID)()
	c, err := rt.loadTags(r, dev.UserID, roomID)
	if err != nil {
		return nil, err
	}
	if _, ok := c.Tags[tag]; !ok {
		return empty, nil
	}
	delete(c.Tags, tag)
	return empty, rt.saveTags(r, dev.UserID, roomID, c)
}
