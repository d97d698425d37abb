// Package apispec embeds Parley's HTTP contract, api/openapi.yaml (as the JSON that `make
// generate` writes beside it), so that the server routes, validates and serves the very document
// its clients are generated from.
package apispec

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

// document is api/openapi.yaml as JSON, written by `make generate` (the same keys and values,
// key order aside), so serving it takes no conversion at start.
//
//go:embed openapi.json
var document []byte

// JSON returns the document as /openapi.json serves it.
func JSON() []byte { return bytes.Clone(document) }

// Load parses the document and resolves its references. Every call returns a copy of its own,
// which the caller may change (clear its servers, say) without touching anyone else's.
func Load() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	return doc, nil
}
