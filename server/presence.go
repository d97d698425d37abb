package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/internal/userid"
)

// maxPresenceUsers is the most users GET /v1/presence takes, as the spec's maxItems says.
const maxPresenceUsers = 500

// presenceReader reads users' presence as a viewer sees it: the hub.
type presenceReader interface {
	Presence(ctx context.Context, viewer string, users []string) ([]api.Presence, error)
}

var errInvalidPresenceUsers = badRequest("invalid_user_ids", fmt.Sprintf("user_ids must list 1 to %d user ids, comma separated.", maxPresenceUsers))

// GetPresence answers who of some users is online: those who share a conversation with the caller
// as they are, anyone else as offline; in the order asked, each user once.
func (h *Handlers) GetPresence(ctx context.Context, req apiserver.GetPresenceRequestObject) (apiserver.GetPresenceResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	// The spec validator refuses these before the handler; checked again for callers that skip it.
	users := req.Params.UserIds
	if len(users) == 0 || len(users) > maxPresenceUsers {
		return nil, errInvalidPresenceUsers
	}
	for _, u := range users {
		if !userid.Valid(u) {
			return nil, errInvalidPresenceUsers
		}
	}
	if h.presence == nil {
		return nil, fmt.Errorf("read presence: %w", errNoPresence)
	}
	items, err := h.presence.Presence(ctx, caller, users)
	if err != nil {
		return nil, fmt.Errorf("read presence: %w", err)
	}
	return apiserver.GetPresence200JSONResponse(api.PresenceList{Items: items}), nil
}

// errNoPresence is handlers built without a presence reader: a wiring bug, hence a 500.
var errNoPresence = errors.New("no presence reader")
