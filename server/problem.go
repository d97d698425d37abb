package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/gen/api"
)

// problemError is an expected failure of a request: a client error, never a 500. Handlers return
// it as their error, as is or wrapped, and the strict handler's response error handler answers it
// with its status and code: one place for every operation. Queries' "no row" becomes one at the
// storage boundary (noRowsAs).
type problemError struct {
	status int
	code   string
	detail string
}

func (e *problemError) Error() string { return e.code + ": " + e.detail }

func (e *problemError) problem() api.Problem { return newProblem(e.status, e.code, e.detail) }

var (
	errConversationNotFound = &problemError{http.StatusNotFound, "conversation_not_found", "No such conversation, or you are not a member of it."}
	errMemberNotFound       = &problemError{http.StatusNotFound, "member_not_found", "That user is not a member of this conversation."}
	errMessageNotFound      = &problemError{http.StatusNotFound, "message_not_found", "No message has that seq in this conversation."}
	errDirectConversation   = &problemError{http.StatusForbidden, "direct_conversation", "Direct conversations have fixed members and no title."}
	errNotAdmin             = &problemError{http.StatusForbidden, "not_admin", "Only the owner or an admin may do this."}
	errNotSender            = &problemError{http.StatusForbidden, "not_sender", "Only the sender may edit a message."}
	errNotAllowedToDelete   = &problemError{http.StatusForbidden, "not_allowed", "Only the sender, the owner or an admin may delete a message."}
	errCannotRemove         = &problemError{http.StatusForbidden, "not_allowed", "An admin may remove members, but not the owner or other admins."}
	errAlreadyMember        = &problemError{http.StatusConflict, "already_member", "That user is a member already."}
	errMessageDeleted       = &problemError{http.StatusConflict, "message_deleted", "A deleted message cannot be edited."}
	errConversationFull     = &problemError{http.StatusConflict, "conversation_full", "This conversation has the most members allowed."}
	errBlocked              = &problemError{http.StatusForbidden, "blocked", "One of the two users blocks the other."}
	errReactionOnDeleted    = &problemError{http.StatusConflict, "message_deleted", "A deleted message takes no reactions."}
	errTooManyReactions     = &problemError{http.StatusConflict, "too_many_reactions", fmt.Sprintf("A message carries at most %d distinct emoji.", maxEmojiPerMessage)}
	errTooManyBlocks        = &problemError{http.StatusConflict, "too_many_blocks", fmt.Sprintf("A user blocks at most %d others.", maxBlocks)}
	errInvalidReplyTarget   = badRequest("invalid_reply_target", "reply_to_seq must name a message of this conversation that is neither a reply nor deleted.")
	errInvalidMention       = badRequest("invalid_mention", fmt.Sprintf("mentions must name at most %d current members of the conversation.", maxMentions))
	errInvalidCursor        = badRequest("invalid_cursor", "cursor is not a next_cursor this server returned.")
	errInvalidEmoji         = badRequest("invalid_emoji", "emoji must be one emoji (a single grapheme cluster) or a shortcode such as :parrot: (lowercase letters, digits, _ + -, at most 32).")
)

func badRequest(code, detail string) *problemError {
	return &problemError{http.StatusBadRequest, code, detail}
}

// noRowsAs maps what a query returned at the storage boundary: no row is the expected failure
// noRows, any other error is wrapped with what was being done.
func noRowsAs(err error, noRows *problemError, doing string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return noRows
	default:
		return fmt.Errorf("%s: %w", doing, err)
	}
}

func newProblem(status int, code, detail string) api.Problem {
	p := api.Problem{
		Type:   "urn:parley:problem:" + code,
		Title:  http.StatusText(status),
		Status: status,
		Code:   code,
	}
	if detail != "" {
		p.Detail = &detail
	}
	return p
}

// writeProblem writes an application/problem+json response. It is the one writer of every error
// path: authentication, body limits, validation, parameter binding, routing, panics, and handlers'
// expected and unexpected errors.
func writeProblem(w http.ResponseWriter, p api.Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="parley"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// retryAfterSeconds is what a 503 asks clients to wait.
const retryAfterSeconds = 2
