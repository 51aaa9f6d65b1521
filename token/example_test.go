package token_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sesame-go/sesame/keys"
	"github.com/sesame-go/sesame/token"
)

func Example() {
	// A new keyset: an active and a pending key. Real programs load theirs
	// from package keys' storage.
	ks, _ := keys.Init(time.Now())

	type Cart struct {
		UserID string   `json:"uid"`
		Items  []string `json:"items"`
	}
	codec, err := token.New[Cart](&token.Options{Issuer: "https://id.example", Audience: "shop"})
	if err != nil {
		panic(err)
	}

	raw, claims, err := codec.Mint(ks, token.NewSessionID(), Cart{UserID: "u42", Items: []string{"tea"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("lifetime:", claims.ExpiresAt.Sub(claims.IssuedAt))

	tok, err := codec.Parse(ks, raw)
	if err != nil {
		panic(err)
	}
	fmt.Println("user:", tok.Payload.UserID, "items:", tok.Payload.Items)

	// A tampered token is refused with a reason code.
	i := len(raw) - 10 // a character inside the signature
	c := byte('A')
	if raw[i] == 'A' {
		c = 'B'
	}
	_, err = codec.Parse(ks, raw[:i]+string(c)+raw[i+1:])
	fmt.Println("tampered:", token.Reason(err), errors.Is(err, token.ErrBadSignature))
	// Output:
	// lifetime: 10m0s
	// user: u42 items: [tea]
	// tampered: bad_signature true
}
