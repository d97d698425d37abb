package server

import (
	"encoding/base64"
	"strings"
)

// A cursor is where the next page starts: the two parts of the last item's sort key, opaque to
// clients (base64url). It begins with the kind of the route it belongs to, so that a cursor of
// another route is refused; the conversation list's, the first there was, has no kind.
const (
	reactorCursorKind = "reactors|"
	searchCursorKind  = "search|"
)

func encodeCursor(kind, a, b string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + a + "|" + b))
}

// decodeCursor gives back the parts of a cursor of kind; ok is false for anything else.
func decodeCursor(kind, cursor string) (a, b string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(string(raw), kind)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "|")
}
