package dynamourl

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want URL
	}{
		{"dynamodb://sessions", URL{Table: "sessions", Timeout: DefaultTimeout}},
		{"dynamodb://sessions/", URL{Table: "sessions", Timeout: DefaultTimeout}},
		{"dynamodb://s-1.x?region=eu-west-1", URL{Table: "s-1.x", Region: "eu-west-1", Timeout: DefaultTimeout}},
		{"dynamodb://t0t?region=us-east-1&endpoint=http://127.0.0.1:8000&poll=250ms&timeout=1s",
			URL{Table: "t0t", Region: "us-east-1", Endpoint: "http://127.0.0.1:8000", Poll: 250 * time.Millisecond, Timeout: time.Second}},
	} {
		got, err := Parse(tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ raw, want string }{
		{"redis://x", "not a dynamodb://"},
		{"dynamodb://", "want dynamodb://TABLE"},
		{"dynamodb://t/x", "want dynamodb://TABLE"},
		{"dynamodb://key:secret@t", "credentials never go in the URL"},
		{"dynamodb://t?endpoint=localhost:8000", "not an http(s) URL"},
		{"dynamodb://t?poll=fast", "poll"},
		{"dynamodb://t?timeout=0s", "timeout"},
		{"dynamodb://t?reigon=x", `unknown parameter "reigon"`},
	} {
		_, err := Parse(tc.raw)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): got %v, want an error with %q", tc.raw, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Parse(%q): the error shows the secret: %v", tc.raw, err)
		}
	}
}
