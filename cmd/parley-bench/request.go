package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// request sends one request without a body to server node as user and returns the status and the
// whole answer. path is already escaped; query may be nil.
func (b *bench) request(ctx context.Context, node, user int, method, path string, query url.Values) (int, []byte, error) {
	target := b.cfg.urls[node%len(b.cfg.urls)] + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.tokens[user])
	resp, err := b.httpc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// getJSON is a GET answered 200 with JSON, decoded into out.
func (b *bench) getJSON(ctx context.Context, node, user int, path string, query url.Values, out any) error {
	status, body, err := b.request(ctx, node, user, http.MethodGet, path, query)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", path, status, clip(body))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}

// clip shortens an answer for an error message.
func clip(body []byte) string {
	if len(body) > 300 {
		return string(body[:300]) + "…"
	}
	return string(body)
}

// The parts of the API's answers that the bench reads.
type (
	summaryPage struct {
		Items []struct {
			ID                 string `json:"id"`
			Title              string `json:"title"`
			LastSeq            int64  `json:"last_seq"`
			UnreadCount        int64  `json:"unread_count"`
			UnreadMentionCount int64  `json:"unread_mention_count"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	messagePage struct {
		Items []struct {
			Seq       int64 `json:"seq"`
			Reactions []struct {
				Emoji string `json:"emoji"`
				Count int64  `json:"count"`
			} `json:"reactions"`
		} `json:"items"`
	}
	searchPage struct {
		Items []struct {
			Message struct {
				ConversationID string `json:"conversation_id"`
				Seq            int64  `json:"seq"`
			} `json:"message"`
			Snippet string `json:"snippet"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	reactorPage struct {
		Items []struct {
			UserID string `json:"user_id"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
)

func convPath(conv *benchConv) string { return "/v1/conversations/" + conv.idStr }
