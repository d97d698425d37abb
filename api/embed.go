// Package apispec embeds api/openapi.yaml, Parley's HTTP contract, so that the server routes,
// validates and serves the very document its clients are generated from.
package apispec

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var document []byte

// YAML returns the document as it is written.
func YAML() []byte { return bytes.Clone(document) }

// Load parses the document and resolves its references. Every call returns a copy of its own,
// which the caller may change (clear its servers, say) without touching anyone else's.
func Load() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	return doc, nil
}

// JSON returns the document converted to JSON: the same keys and values as the YAML, key order
// aside. It is not a re-encoding of Load's model, which would rename and drop things.
func JSON() ([]byte, error) {
	var tree any
	if err := yaml.Unmarshal(document, &tree); err != nil {
		return nil, fmt.Errorf("decode the OpenAPI document: %w", err)
	}
	out, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("encode the OpenAPI document as JSON: %w", err)
	}
	return out, nil
}
