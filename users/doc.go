// Package users is a password Authenticator for auth, and the users file it
// reads (sessiond's, managed with sessionctl): a JSON file of names and
// argon2id password hashes, the tools to edit it safely, and an
// [auth.Authenticator] that checks logins against it and follows changes.
//
// # Users file
//
// A users file holds, for each user, the canonical (lower-case) name, which
// is also the user id in sessions, and a PHC-format argon2id hash:
//
//	{
//	  "format": "sesame-users/v1",
//	  "users": [
//	    {"name": "alice", "hash": "$argon2id$v=19$m=65536,t=1,p=2$...$...", "created": "...", "updated": "..."}
//	  ]
//	}
//
// The file is written atomically with mode 0600 ([Write], [Edit]); it holds
// no plaintext, but offline guessing against its hashes is what argon2id's
// cost ([DefaultParams]) slows down, so it should stay private.
//
// # Logins
//
// [Open] returns an [Authenticator] for a file; [Static] for a fixed list.
// An unknown user and a wrong password both give [auth.ErrInvalidCredentials]
// after the same work (a dummy hash is verified for unknown users), so the
// answer and its timing do not reveal which names exist.
//
// # Removing a user
//
// An [Authenticator] also implements [auth.UserChecker]: at every refresh,
// auth asks [Authenticator.UserActive] whether the session's user is still
// in the users in use. Once a user is removed from the file and the file is
// reloaded (within PollInterval, 1s by default, or at once on
// [Authenticator.Reload]; sessiond reloads on SIGHUP), their next login is
// refused, and the first refresh of any of their sessions ends every session
// they have: all their refresh families, and their access tokens through the
// denylist. That refresh is answered 401 "revoked" and auth emits a
// user_inactive event. Until one of their sessions refreshes, access tokens
// already issued stay valid until they expire (the access-token lifetime,
// 10 minutes by default); to end them at once, revoke the user's sessions in
// the revocation store ("log out everywhere", `sessionctl sessions revoke
// --user NAME`). A users file that fails to load changes nothing: the last
// good users stay in use, so a broken file never ends sessions.
package users
