package apispec

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The embedded JSON is openapi.yaml, converted: one edited without `make generate` fails here.
func TestJSONIsCurrentWithTheYAML(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("openapi.yaml")
	require.NoError(t, err)
	var fromYAML, fromJSON any
	require.NoError(t, yaml.Unmarshal(src, &fromYAML))
	require.NoError(t, json.Unmarshal(JSON(), &fromJSON))
	// Through JSON, so both sides hold the same Go types (numbers as float64).
	converted, err := json.Marshal(fromYAML)
	require.NoError(t, err)
	var want any
	require.NoError(t, json.Unmarshal(converted, &want))
	require.Equal(t, want, fromJSON, "run make generate")
}

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
	raw := JSON()
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
				Examples map[string]struct {
					Value map[string]any `json:"value"`
				} `json:"examples"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	require.NoError(t, json.Unmarshal(tree.Paths["/v1/conversations/{conversation_id}/messages"]["post"], &send))
	require.Equal(t, map[string]any{"client_msg_id": "7f1c2a9e-01", "body": "Hello, team"},
		send.RequestBody.Content["application/json"].Examples["message"].Value)
}
