package server

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
	"github.com/parleyhq/parley/gen/db"
)

// maxQueryChars bounds q, as the spec does.
const maxQueryChars = 256

// SearchMessages runs a full-text search over the messages of the caller's conversations (see the
// MessageSearch query), best match first.
func (h *Handlers) SearchMessages(ctx context.Context, req apiserver.SearchMessagesRequestObject) (apiserver.SearchMessagesResponseObject, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	query := req.Params.Q
	if !utf8.ValidString(query) || strings.ContainsRune(query, 0) || query == "" || utf8.RuneCountInString(query) > maxQueryChars {
		return nil, badRequest("invalid_query", fmt.Sprintf("q must be 1–%d characters of text without NUL characters.", maxQueryChars))
	}
	params := db.MessageSearchParams{Query: query, UserID: caller, ConversationID: req.Params.ConversationId}
	if req.Params.Cursor != nil {
		rank, id, ok := decodeSearchCursor(*req.Params.Cursor)
		if !ok {
			return nil, errInvalidCursor
		}
		params.AfterRank, params.AfterID = &rank, &id
	}
	if req.Params.ConversationId != nil {
		if _, err := h.conversationForMember(ctx, *req.Params.ConversationId, caller); err != nil {
			return nil, err
		}
	}
	words, err := h.queries.SearchQueryWords(ctx, query)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == pgerrcode.InternalError ||
		pgerrcode.IsDataException(pgErr.Code) || pgerrcode.IsProgramLimitExceeded(pgErr.Code)) {
		// The statement only parses q, so such a refusal is q's doing: a run of 200 "-" nests
		// more NOTs than the parser takes (XX000).
		return nil, badRequest("invalid_query", "q is too complex to search for.")
	}
	if err != nil {
		return nil, fmt.Errorf("parse search query: %w", err)
	}
	if words == 0 {
		return nil, badRequest("invalid_query", "q has nothing to search for: only operators, or only words too common to be indexed.")
	}
	limit := pageLimit(req.Params.Limit)
	params.MaxRows = int32(limit + 1)
	rows, err := h.queries.MessageSearch(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("search messages: %w", err)
	}
	page := api.SearchPage{Items: make([]api.SearchHit, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		cursor := encodeSearchCursor(last.Rank, last.Message.ID)
		page.NextCursor = &cursor
	}
	messages := make([]api.Message, len(rows))
	for i, r := range rows {
		messages[i] = messageOut(r.Message)
	}
	if err := withReactions(ctx, h.queries, caller, messages); err != nil {
		return nil, err
	}
	for i, r := range rows {
		page.Items = append(page.Items, api.SearchHit{Message: messages[i], Snippet: snippetHTML(r.Snippet)})
	}
	return apiserver.SearchMessages200JSONResponse(page), nil
}

// snippetHTML turns the query's snippet into HTML: the text escaped, the body's own < > & (which
// the query hands over as \x03 \x04 \x05) as entities, and the matches (between \x01 and \x02)
// in <mark>.
func snippetHTML(snippet string) string {
	return snippetMarkup.Replace(html.EscapeString(snippet))
}

var snippetMarkup = strings.NewReplacer("\x01", "<mark>", "\x02", "</mark>", "\x03", "&lt;", "\x04", "&gt;", "\x05", "&amp;")

// A search cursor is the (rank, id) of the last hit of a page. The rank is written with as many
// digits as a float32 needs to come back exactly.
func encodeSearchCursor(rank float32, id uuid.UUID) string {
	return encodeCursor(searchCursorKind, strconv.FormatFloat(float64(rank), 'g', -1, 32), id.String())
}

func decodeSearchCursor(cursor string) (float32, uuid.UUID, bool) {
	rankText, idText, ok := decodeCursor(searchCursorKind, cursor)
	if !ok {
		return 0, uuid.UUID{}, false
	}
	rank, err := strconv.ParseFloat(rankText, 32)
	if err != nil || math.IsNaN(rank) || math.IsInf(rank, 0) {
		return 0, uuid.UUID{}, false
	}
	id, err := uuid.Parse(idText)
	if err != nil {
		return 0, uuid.UUID{}, false
	}
	return float32(rank), id, true
}
