// Package gen holds the code generated from api/openapi.yaml and from db/migrations and
// db/queries:
//   - gen/api: the models and the typed client (what a Go program that calls Parley imports);
//   - gen/apiserver: the chi router and the strict server interface, over gen/api's models;
//   - gen/db: sqlc's queries;
//   - and api/openapi.json, the document as JSON, which package apispec embeds.
//
// Nothing generated is edited by hand: change the schema, then run `go generate ./...` (or
// `make generate`). The one hand-written file under gen/ is gen/api/problem.go, the helper that
// gives a failed response's problem.
package gen

//go:generate go run ../internal/yamljson ../api/openapi.yaml ../api/openapi.json
//go:generate go tool oapi-codegen -config ../oapi-codegen.yaml -o api/api.gen.go ../api/openapi.yaml
//go:generate go tool oapi-codegen -config ../oapi-codegen.server.yaml -o apiserver/apiserver.gen.go ../api/openapi.yaml
//go:generate go tool sqlc generate -f ../sqlc.yaml
