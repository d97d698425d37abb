package realtime

import (
	"context"
	"fmt"

	"github.com/parleyhq/parley/gen/db"
)

// PresenceVisible returns which of users share a conversation with viewer.
func (s *PGStore) PresenceVisible(ctx context.Context, viewer string, users []string) ([]string, error) {
	rows, err := s.queries.PresenceVisible(ctx, db.PresenceVisibleParams{UserID: viewer, UserIds: users})
	if err != nil {
		return nil, fmt.Errorf("presence visible to %s: %w", viewer, err)
	}
	return rows, nil
}
