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
// The Authenticator is also an [auth.UserChecker]: at every refresh, the
// Manager asks whether the session's user is still in the file (as it was
// last loaded). Removing a user refuses their next login and ends all their
// sessions at their next refresh; their access tokens still in flight are
// refused once that refresh has ended the sessions, or when they expire.
package users
