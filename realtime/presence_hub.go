package realtime

import (
	"context"
	"errors"
	"strconv"

	"github.com/parleyhq/parley/gen/api"
)

// PresenceTracker is the hub's presence tracker, for a PresenceSync to attach Redis to.
func (h *Hub) PresenceTracker() *PresenceTracker { return h.presence }

// Presence is the presence of users as viewer sees them: GET /v1/presence.
func (h *Hub) Presence(ctx context.Context, viewer string, users []string) ([]api.Presence, error) {
	return h.presence.Lookup(ctx, viewer, users)
}

// visibilityOf is the store's presence visibility when it has one. Without, only one's own
// presence shows: a store that cannot say who shares a conversation reveals no one.
func visibilityOf(store Store) PresenceVisibility {
	if v, ok := store.(PresenceVisibility); ok {
		return v
	}
	return nil
}

// presenceSubscribe answers the reader's presence.subscribe; a refusal is an error frame and the
// set watched stays as it was.
func (c *Conn) presenceSubscribe(users []string) {
	err := c.presence.subscribe(c.ctx, c, users)
	switch {
	case err == nil:
	case errors.Is(err, errTooManySubscriptions):
		c.sendError("too_many_subscriptions", "presence.subscribe takes at most "+strconv.Itoa(c.presence.cfg.MaxSubscriptions)+" users")
	default:
		if c.ctx.Err() == nil {
			c.env.logger.WarnContext(c.ctx, "presence: subscribe", "user", c.userID, "error", err)
			c.sendError("unavailable", "presence is unavailable; try again later")
		}
	}
}
