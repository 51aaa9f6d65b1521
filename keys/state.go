package keys

import "fmt"

// State is where a key generation stands in its lifecycle:
//
//	pending → active → verify-only → retired
//	   any state → revoked
//
// Only an active key signs. Active and verify-only keys verify. Pending keys
// are published (so that verifiers learn them before they sign) but verify
// nothing: no token can have been signed with them yet.
type State uint8

const (
	// Pending keys are published in the JWKS but neither sign nor verify.
	Pending State = iota + 1
	// Active is the one key that signs new tokens.
	Active
	// VerifyOnly keys stopped signing but still verify the tokens they signed
	// until those have expired.
	VerifyOnly
	// Retired keys verify nothing and may be pruned.
	Retired
	// Revoked keys verify nothing, at once (key compromise).
	Revoked
)

var stateNames = [...]string{
	Pending:    "pending",
	Active:     "active",
	VerifyOnly: "verify-only",
	Retired:    "retired",
	Revoked:    "revoked",
}

// String returns the state's name as used in files, JSON and the CLI.
func (s State) String() string {
	if s >= Pending && s <= Revoked {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// parseState returns the State named name.
func parseState(name string) (State, error) {
	for s := Pending; s <= Revoked; s++ {
		if stateNames[s] == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("keys: unknown key state %q", name)
}

// CanVerify reports whether tokens signed by a key in this state are accepted.
func (s State) CanVerify() bool { return s == Active || s == VerifyOnly }

// Published reports whether a key in this state belongs in the public JWKS.
func (s State) Published() bool { return s == Pending || s == Active || s == VerifyOnly }

// MarshalText encodes the state as its name.
func (s State) MarshalText() ([]byte, error) {
	if s < Pending || s > Revoked {
		return nil, fmt.Errorf("keys: cannot encode invalid state %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a state name.
func (s *State) UnmarshalText(b []byte) error {
	v, err := parseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
