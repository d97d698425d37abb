// Package demo holds the demo chat page that `parley serve --dev` serves at /demo/: a small
// TypeScript page on the Parley TypeScript client. Its built files are committed under dist/
// (`make generate` rebuilds them) so that building Parley needs no Node.js.
package demo

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Files returns the built page: index.html, app.js and app.css at its root.
func Files() fs.FS {
	files, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "dist" is a constant.
		panic(fmt.Sprintf("demo: sub dist: %v", err))
	}
	return files
}
