package syncv3

import (
	"reflect"
	"testing"
)

func TestMergeParams(t *testing.T) {
	for _, tc := range []struct {
		name        string
		stored, req Request
		want        Request
	}{
		{"new stream", Request{}, Request{Typing: &TypingRequest{RoomID: "!a"}}, Request{Typing: &TypingRequest{RoomID: "!a"}}},
		{"kept when not sent", Request{Typing: &TypingRequest{RoomID: "!a"}}, Request{ToDevice: &ToDeviceRequest{}},
			Request{Typing: &TypingRequest{RoomID: "!a"}, ToDevice: &ToDeviceRequest{}}},
		{"field overrides", Request{Typing: &TypingRequest{RoomID: "!a"}}, Request{Typing: &TypingRequest{RoomID: "!b"}},
			Request{Typing: &TypingRequest{RoomID: "!b"}}},
		{"empty object keeps fields", Request{ToDevice: &ToDeviceRequest{Limit: 5}}, Request{ToDevice: &ToDeviceRequest{}},
			Request{ToDevice: &ToDeviceRequest{Limit: 5}}},
		{"p limit sticky, cursor not", Request{RoomMembers: &RoomMembersRequest{RoomID: "!a", P: &P{Limit: 5}}},
			Request{RoomMembers: &RoomMembersRequest{P: &P{Sort: "by_name", Since: "1"}}},
			Request{RoomMembers: &RoomMembersRequest{RoomID: "!a", P: &P{Limit: 5, Sort: "by_name"}}}},
		{"cursor alone is not stored", Request{}, Request{RoomMembers: &RoomMembersRequest{RoomID: "!a", P: &P{Since: "1"}}},
			Request{RoomMembers: &RoomMembersRequest{RoomID: "!a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mergeParams(tc.stored, &tc.req); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v want %+v", got, tc.want)
			}
		})
	}
}
