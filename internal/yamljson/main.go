// Command yamljson writes a YAML document as JSON: `make generate` turns api/openapi.yaml into
// the api/openapi.json that Parley embeds and serves, so the server neither parses YAML at start
// nor re-encodes the document it serves.
//
// Usage: yamljson in.yaml out.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: yamljson in.yaml out.json")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "yamljson:", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var tree any
	if err := yaml.Unmarshal(src, &tree); err != nil {
		return fmt.Errorf("decode %s: %w", in, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tree); err != nil {
		return fmt.Errorf("encode %s as JSON: %w", in, err)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
