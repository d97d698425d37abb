// Package gen holds the code generated from api/openapi.yaml (gen/api, and the document as JSON
// in api/openapi.json) and from db/migrations and db/queries (gen/db). Nothing under gen/ is edited by hand: change the schema, then run
// `go generate ./...` (or `make generate`).
package gen

//go:generate go run ../internal/yamljson ../api/openapi.yaml ../api/openapi.json
//go:generate go tool oapi-codegen -config ../oapi-codegen.yaml -o api/api.gen.go ../api/openapi.yaml
//go:generate go tool sqlc generate -f ../sqlc.yaml
