package syncv3

// mergeParams returns the session's sticky parameters after a request: each stream the
// request names keeps its stored parameters, overridden by every field the request sets.
// A pagination cursor (p.since, p.next) is never sticky: it belongs to the one request.
func mergeParams(stored Request, req *Request) Request {
	out := stored
	if r := req.Typing; r != nil {
		t := TypingRequest{}
		if out.Typing != nil {
			t = *out.Typing
		}
		if r.RoomID != "" {
			t.RoomID = r.RoomID
		}
		out.Typing = &t
	}
	if r := req.ToDevice; r != nil {
		t := ToDeviceRequest{}
		if out.ToDevice != nil {
			t = *out.ToDevice
		}
		if r.Limit != 0 {
			t.Limit = r.Limit
		}
		out.ToDevice = &t
	}
	if r := req.RoomMembers; r != nil {
		m := RoomMembersRequest{}
		if out.RoomMembers != nil {
			m = *out.RoomMembers
		}
		if r.RoomID != "" {
			m.RoomID = r.RoomID
		}
		m.P = mergeP(m.P, r.P)
		out.RoomMembers = &m
	}
	if r := req.Room; r != nil {
		m := RoomRequest{}
		if out.Room != nil {
			m = *out.Room
		}
		if r.RoomID != "" {
			m.RoomID = r.RoomID
		}
		if r.TimelineLimit != 0 {
			m.TimelineLimit = r.TimelineLimit
		}
		if r.RequiredState != nil {
			m.RequiredState = r.RequiredState
		}
		m.P = mergeP(m.P, r.P)
		out.Room = &m
	}
	if r := req.RoomList; r != nil {
		m := RoomListRequest{}
		if out.RoomList != nil {
			m = *out.RoomList
		}
		if r.Fields != nil {
			m.Fields = r.Fields
		}
		m.P = mergeP(m.P, r.P)
		out.RoomList = &m
	}
	return out
}

// mergeP merges a request's p into the sticky one (limit and sort only).
func mergeP(stored, req *P) *P {
	if stored == nil && req == nil {
		return nil
	}
	p := P{}
	if stored != nil {
		p.Limit, p.Sort = stored.Limit, stored.Sort
	}
	if req != nil {
		if req.Limit != 0 {
			p.Limit = req.Limit
		}
		if req.Sort != "" {
			p.Sort = req.Sort
		}
	}
	if p.Limit == 0 && p.Sort == "" {
		return nil
	}
	return &p
}
