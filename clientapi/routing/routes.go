package routing

import (
	"net/http"

	asapi "github.com/axon-matrix/axon/appservice/api"
)

// register lists every route the clientapi serves. Paths and methods follow
// /work/shared/matrix-spec/endpoints.tsv; everything else is left to the process's
// M_UNRECOGNIZED fallback.
func (rt *Routes) register(routers Routers) {
	const get, post, put, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	r := routers.Client

	// Discovery
	rt.route(r, get, "/versions", public, rt.versions)
	if routers.WellKnown != nil {
		rt.route(routers.WellKnown, get, "/client", public, rt.wellKnown)
	}
	rt.client(r, get, "/capabilities", guestOK, rt.capabilities)

	// Registration and login
	rt.client(r, post, "/register", public,
		rt.appServiceUnlimited(rt.perIPOnSuccess(rt.limits.registration, rt.registerUser), rt.registerUser))
	rt.client(r, get, "/register/available", public, rt.registerAvailable)
	rt.route(r, get, "/v1/register/m.login.registration_token/validity", public,
		rt.perIP(rt.limits.tokenValidity, rt.registrationTokenValidity))
	if a := routers.SynapseAdmin; a != nil {
		rt.route(a, get, "/v1/register", public, rt.sharedSecretNonce)
		rt.route(a, post, "/v1/register", public, rt.sharedSecretRegister)
		rt.addRegistrationTokenAdminRoutes(a)
	}
	rt.client(r, get, "/login", public, rt.loginFlows)
	rt.client(r, post, "/login", public, rt.appServiceUnlimited(rt.perIP(rt.limits.loginAddress, rt.login), rt.login))
	rt.client(r, post, "/logout", guestOK, rt.logout)
	rt.client(r, post, "/logout/all", guestOK, rt.logoutAll)
	rt.client(r, get, "/account/whoami", guestOK, rt.whoami)
	// Application services (appservice.go; arrow 10)
	rt.route(r, post, "/v1/appservice/{appserviceId}/ping", public, rt.pingAppService)
	// Third-party lookups (thirdparty.go; arrow 10 → the services declaring the protocol)
	rt.client(r, get, "/thirdparty/protocols", guestOK, rt.thirdPartyProtocols)
	rt.client(r, get, "/thirdparty/protocol/{protocol}", guestOK, rt.thirdPartyProtocol)
	rt.client(r, get, "/thirdparty/location/{protocol}", guestOK, rt.thirdPartyQuery(asapi.ThirdPartyLocation))
	rt.client(r, get, "/thirdparty/user/{protocol}", guestOK, rt.thirdPartyQuery(asapi.ThirdPartyUser))
	rt.client(r, get, "/thirdparty/location", guestOK, rt.thirdPartyQuery(asapi.ThirdPartyLocation))
	rt.client(r, get, "/thirdparty/user", guestOK, rt.thirdPartyQuery(asapi.ThirdPartyUser))

	// Devices and account
	rt.client(r, get, "/devices", guestOK, rt.listDevices)
	rt.client(r, get, "/devices/{deviceId}", guestOK, rt.getDevice)
	rt.client(r, put, "/devices/{deviceId}", guestOK, rt.updateDevice)
	rt.client(r, del, "/devices/{deviceId}", user, rt.deleteDevice)
	rt.client(r, post, "/delete_devices", user, rt.deleteDevices)
	rt.client(r, post, "/account/password", user, rt.changePassword)
	rt.client(r, post, "/account/deactivate", user, rt.deactivate)

	// Profile
	rt.client(r, get, "/profile/{userId}", public, rt.getProfile)
	rt.client(r, get, "/profile/{userId}/displayname", public, rt.getProfileField("displayname"))
	rt.client(r, get, "/profile/{userId}/avatar_url", public, rt.getProfileField("avatar_url"))
	rt.client(r, put, "/profile/{userId}/displayname", guestOK, rt.setProfileField("displayname"))
	rt.client(r, put, "/profile/{userId}/avatar_url", guestOK, rt.setProfileField("avatar_url"))

	// Account data and filters
	rt.client(r, get, "/user/{userId}/account_data/{type}", guestOK, rt.getAccountData)
	rt.client(r, put, "/user/{userId}/account_data/{type}", guestOK, rt.putAccountData)
	rt.client(r, get, "/user/{userId}/rooms/{roomId}/account_data/{type}", guestOK, rt.getAccountData)
	rt.client(r, put, "/user/{userId}/rooms/{roomId}/account_data/{type}", guestOK, rt.putAccountData)
	rt.client(r, get, "/user/{userId}/rooms/{roomId}/tags", guestOK, rt.getTags)
	rt.client(r, put, "/user/{userId}/rooms/{roomId}/tags/{tag}", guestOK, rt.putTag)
	rt.client(r, del, "/user/{userId}/rooms/{roomId}/tags/{tag}", guestOK, rt.deleteTag)
	rt.client(r, get, "/account/3pid", user, rt.threePIDs)
	rt.client(r, post, "/user/{userId}/filter", guestOK, rt.postFilter)
	rt.client(r, get, "/user/{userId}/filter/{filterId}", guestOK, rt.getFilter)

	// Push rules
	rt.client(r, get, "/pushrules/", guestOK, rt.getAllPushRules)
	rt.client(r, get, "/pushrules", guestOK, rt.getAllPushRules)
	rt.client(r, get, "/pushrules/{scope}/", guestOK, rt.getPushRuleScope)
	rt.client(r, get, "/pushrules/{scope}", guestOK, rt.getPushRuleScope)
	rt.client(r, get, "/pushrules/{scope}/{kind}/{ruleId}", guestOK, rt.getPushRule)
	rt.client(r, put, "/pushrules/{scope}/{kind}/{ruleId}", user, rt.putPushRule)
	rt.client(r, del, "/pushrules/{scope}/{kind}/{ruleId}", user, rt.deletePushRule)
	rt.client(r, get, "/pushrules/{scope}/{kind}/{ruleId}/enabled", guestOK, rt.getPushRuleAttr("enabled"))
	rt.client(r, put, "/pushrules/{scope}/{kind}/{ruleId}/enabled", user, rt.putPushRuleAttr("enabled"))
	rt.client(r, get, "/pushrules/{scope}/{kind}/{ruleId}/actions", guestOK, rt.getPushRuleAttr("actions"))
	rt.client(r, put, "/pushrules/{scope}/{kind}/{ruleId}/actions", user, rt.putPushRuleAttr("actions"))

	// Rooms (arrow 4: clientapi → roomserver). Rate limits (ratelimit.go): perUser and perIP
	// wrap the limited handlers; invites are limited inside targetMembership and createRoom.
	rt.client(r, post, "/createRoom", user, rt.perUser(rt.limits.message, rt.createRoom))
	rt.client(r, post, "/join/{roomIdOrAlias}", guestOK, rt.perUser(rt.limits.joins, rt.joinRoomIDOrAlias))
	rt.client(r, post, "/rooms/{roomId}/join", guestOK, rt.perUser(rt.limits.joins, rt.joinRoom))
	rt.route(r, get, "/v1/rooms/{roomId}/timestamp_to_event", user, rt.timestampToEvent) // timestamp.go
	// Spaces (hierarchy.go).
	rt.route(r, get, "/v1/rooms/{roomId}/hierarchy", guestOK, rt.hierarchy)
	rt.client(r, post, "/knock/{roomIdOrAlias}", user, rt.perUser(rt.limits.message, rt.knock))
	rt.client(r, post, "/rooms/{roomId}/leave", guestOK, rt.perUser(rt.limits.message, rt.leave))
	rt.client(r, post, "/rooms/{roomId}/invite", user, rt.perUser(rt.limits.message, rt.targetMembership("invite")))
	rt.client(r, post, "/rooms/{roomId}/kick", user, rt.perUser(rt.limits.message, rt.targetMembership("kick")))
	rt.client(r, post, "/rooms/{roomId}/ban", user, rt.perUser(rt.limits.message, rt.targetMembership("ban")))
	rt.client(r, post, "/rooms/{roomId}/unban", user, rt.perUser(rt.limits.message, rt.targetMembership("unban")))
	rt.client(r, post, "/rooms/{roomId}/forget", guestOK, rt.forget)
	rt.client(r, put, "/rooms/{roomId}/send/{eventType}/{txnId}", guestOK, rt.perUser(rt.limits.message, rt.sendMessage))
	rt.client(r, put, "/rooms/{roomId}/state/{eventType}", user, rt.perUser(rt.limits.message, rt.sendState))
	rt.client(r, put, "/rooms/{roomId}/state/{eventType}/{stateKey:.*}", user, rt.perUser(rt.limits.message, rt.sendState))
	rt.client(r, get, "/rooms/{roomId}/state", guestOK, rt.getState)
	rt.client(r, get, "/rooms/{roomId}/state/{eventType}", guestOK, rt.getStateEvent)
	rt.client(r, get, "/rooms/{roomId}/state/{eventType}/{stateKey:.*}", guestOK, rt.getStateEvent)
	rt.client(r, put, "/rooms/{roomId}/redact/{eventId}/{txnId}", user, rt.perUser(rt.limits.message, rt.redact))
	rt.client(r, get, "/joined_rooms", guestOK, rt.joinedRooms)

	// Directory
	rt.client(r, get, "/directory/room/{roomAlias}", public, rt.getAlias)
	rt.client(r, put, "/directory/room/{roomAlias}", user, rt.putAlias)
	rt.client(r, del, "/directory/room/{roomAlias}", user, rt.deleteAlias)
	rt.client(r, get, "/rooms/{roomId}/aliases", guestOK, rt.roomAliases)
	rt.client(r, get, "/directory/list/room/{roomId}", public, rt.getVisibility)
	rt.client(r, put, "/directory/list/room/{roomId}", user, rt.putVisibility)
	rt.client(r, get, "/publicRooms", public, rt.publicRoomsGet)
	rt.client(r, post, "/publicRooms", user, rt.publicRoomsPost)
	rt.client(r, put, "/directory/list/appservice/{networkId}/{roomId}", public, rt.putAppServiceListing) // appservice_directory.go

	// Honest empties
	rt.client(r, get, "/voip/turnServer", user, rt.turnServer)
}
