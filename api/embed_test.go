package apispec

import (
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

// The document is valid OpenAPI and every example in it matches its schema, as a client
// generator or a validating proxy that checks examples would require.
func TestDocumentValidatesWithExamples(t *testing.T) {
	t.Parallel()
	doc, err := Load()
	require.NoError(t, err)
	require.NoError(t, doc.Validate(t.Context(), openapi3.EnableExamplesValidation()))
}

// The JSON form keeps what the YAML says verbatim: operation ids in their case, examples as
// written.
func TestJSONIsTheDocument(t *testing.T) {
	t.Parallel()
	raw, err := JSON()
	require.NoError(t, err)
	var tree struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &tree))
	var health struct {
		OperationID string `json:"operationId"`
	}
	require.NoError(t, json.Unmarshal(tree.Paths["/healthz"]["get"], &health))
	require.Equal(t, "getHealth", health.OperationID)
	var send struct {
		RequestBody struct {
			Content map[string]struct {
				Example map[string]any `json:"example"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	require.NoError(t, json.Unmarshal(tree.Paths["/v1/conversations/{conversation_id}/messages"]["post"], &send))
	require.Equal(t, map[string]any{"client_msg_id": "7f1c2a9e-01", "body": "Hello, team"},
		send.RequestBody.Content["application/json"].Example)
}
