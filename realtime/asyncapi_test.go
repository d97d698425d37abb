package realtime_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const (
	asyncAPIPath     = "../api/asyncapi.yaml"
	openAPIPath      = "../api/openapi.yaml"
	generatedAPIPath = "../gen/api/api.gen.go"

	// schemaRefPrefix is the only form a message payload may take: a schema of the HTTP API, from
	// which the Go types are generated.
	schemaRefPrefix = "./openapi.yaml#/components/schemas/"
	// channelRefPrefix starts the $ref of a channel, and of a channel's message.
	channelRefPrefix = "#/channels/"
	// eventFrameSchema is the payload of durable events, whose examples show every event type.
	eventFrameSchema = "EventFrame"
)

type yamlRef struct {
	Ref string `yaml:"$ref"`
}

type asyncAPIMessage struct {
	Name     string            `yaml:"name"`
	Payload  yamlRef           `yaml:"payload"`
	Examples []asyncAPIExample `yaml:"examples"`
}

type asyncAPIExample struct {
	Name    string         `yaml:"name"`
	Payload map[string]any `yaml:"payload"`
}

type asyncAPIChannel struct {
	Address  string                     `yaml:"address"`
	Messages map[string]asyncAPIMessage `yaml:"messages"`
}

type asyncAPIOperation struct {
	Action   string    `yaml:"action"`
	Channel  yamlRef   `yaml:"channel"`
	Messages []yamlRef `yaml:"messages"`
}

type asyncAPIDoc struct {
	AsyncAPI   string                       `yaml:"asyncapi"`
	Channels   map[string]asyncAPIChannel   `yaml:"channels"`
	Operations map[string]asyncAPIOperation `yaml:"operations"`
}

type openAPISchema struct {
	Properties map[string]struct {
		Type string `yaml:"type"`
		Enum []any  `yaml:"enum"`
	} `yaml:"properties"`
}

type openAPIDoc struct {
	OpenAPI    string `yaml:"openapi"`
	Components struct {
		Schemas map[string]openAPISchema `yaml:"schemas"`
	} `yaml:"components"`
}

// TestAsyncAPIFramesHaveGeneratedTypes ties api/asyncapi.yaml to api/openapi.yaml and to the Go code
// generated from it: every message's payload is a frame schema with a generated struct and a
// generated `type` enum, every message is used by an operation, and every *Frame schema of the
// HTTP API is the payload of a message.
func TestAsyncAPIFramesHaveGeneratedTypes(t *testing.T) {
	t.Parallel()

	var async asyncAPIDoc
	readYAML(t, asyncAPIPath, &async)
	require.Equal(t, "3.0.0", async.AsyncAPI, "%s: asyncapi version", asyncAPIPath)
	require.NotEmpty(t, async.Channels, "%s: no channels", asyncAPIPath)

	var openapi openAPIDoc
	readYAML(t, openAPIPath, &openapi)
	require.NotEmpty(t, openapi.OpenAPI, "%s: not an OpenAPI document", openAPIPath)
	require.NotEmpty(t, openapi.Components.Schemas, "%s: no components.schemas", openAPIPath)

	goTypes := declaredTypes(t, generatedAPIPath)

	used, payloads := checkMessagePayloads(t, async, openapi, goTypes)
	checkOperations(t, async, used)
	checkEveryFrameIsAPayload(t, openapi, payloads)
}

// checkMessagePayloads checks that each message's payload is a frame schema with generated Go
// types. It returns every message's $ref ("#/channels/<c>/messages/<m>"), mapped to false for
// "used by no operation yet", and every payload schema's name mapped to a message that carries it.
func checkMessagePayloads(t *testing.T, async asyncAPIDoc, openapi openAPIDoc, goTypes map[string]string) (used map[string]bool, payloads map[string]string) {
	t.Helper()
	used = map[string]bool{}
	payloads = map[string]string{}
	for _, channelID := range slices.Sorted(maps.Keys(async.Channels)) {
		channel := async.Channels[channelID]
		require.NotEmpty(t, channel.Address, "channel %s has no address", channelID)
		for _, messageID := range slices.Sorted(maps.Keys(channel.Messages)) {
			where := "channel " + channelID + ", message " + messageID
			used[channelRefPrefix+channelID+"/messages/"+messageID] = false
			name := checkFramePayload(t, where, channel.Messages[messageID], openapi, goTypes)
			payloads[name] = where
		}
	}
	require.NotEmpty(t, used, "%s: no messages", asyncAPIPath)
	return used, payloads
}

// checkFramePayload checks one message, described by where, and returns the name of its payload
// schema.
func checkFramePayload(t *testing.T, where string, message asyncAPIMessage, openapi openAPIDoc, goTypes map[string]string) string {
	t.Helper()
	name, ok := strings.CutPrefix(message.Payload.Ref, schemaRefPrefix)
	require.True(t, ok, "%s: payload $ref %q is not of the form %s<Name>",
		where, message.Payload.Ref, schemaRefPrefix)
	require.NotEmpty(t, name, "%s: payload $ref names no schema", where)
	require.NotContains(t, name, "/", "%s: payload $ref %q must name a whole schema",
		where, message.Payload.Ref)

	// (a) the schema exists in the HTTP API.
	schema, ok := openapi.Components.Schemas[name]
	require.True(t, ok, "%s: schema %s is not in components.schemas of %s", where, name, openAPIPath)

	// (b) oapi-codegen generated a struct for it.
	require.Equal(t, "struct", goTypes[name],
		"%s: %s must declare `type %s struct`", where, generatedAPIPath, name)

	// (c) its `type` is a one-value string enum, generated as <Name>Type.
	typeProp, ok := schema.Properties["type"]
	require.True(t, ok, "%s: schema %s has no `type` property", where, name)
	require.Len(t, typeProp.Enum, 1, "%s: %s.type must be an enum of exactly one value", where, name)
	value, ok := typeProp.Enum[0].(string)
	require.True(t, ok, "%s: %s.type enum value %v is not a string", where, name, typeProp.Enum[0])
	require.NotEmpty(t, value, "%s: %s.type enum value is empty", where, name)
	require.Equal(t, "string", goTypes[name+"Type"],
		"%s: %s must declare `type %sType string`", where, generatedAPIPath, name)
	return name
}

// checkOperations checks that each operation names an existing channel and messages of that
// channel, and that every message in used is sent or received by some operation.
func checkOperations(t *testing.T, async asyncAPIDoc, used map[string]bool) {
	t.Helper()
	require.NotEmpty(t, async.Operations, "%s: no operations", asyncAPIPath)
	for _, operationID := range slices.Sorted(maps.Keys(async.Operations)) {
		operation := async.Operations[operationID]
		require.Contains(t, []string{"send", "receive"}, operation.Action,
			"operation %s: action must be send or receive", operationID)
		channelID, ok := strings.CutPrefix(operation.Channel.Ref, channelRefPrefix)
		require.True(t, ok, "operation %s: channel $ref %q is not of the form %s<id>",
			operationID, operation.Channel.Ref, channelRefPrefix)
		require.Contains(t, async.Channels, channelID,
			"operation %s: channel %q does not exist", operationID, channelID)
		require.NotEmpty(t, operation.Messages, "operation %s has no messages", operationID)
		for _, m := range operation.Messages {
			require.Contains(t, used, m.Ref,
				"operation %s: message $ref %q is not a message of any channel", operationID, m.Ref)
			require.True(t, strings.HasPrefix(m.Ref, operation.Channel.Ref+"/messages/"),
				"operation %s: message %q is not a message of its channel %q",
				operationID, m.Ref, operation.Channel.Ref)
			used[m.Ref] = true
		}
	}
	// ... and every message is sent or received by some operation.
	for _, messageRef := range slices.Sorted(maps.Keys(used)) {
		require.True(t, used[messageRef], "message %s is used by no operation", messageRef)
	}
}

// checkEveryFrameIsAPayload is the converse: a frame cannot be added to the HTTP API without
// being described in api/asyncapi.yaml.
func checkEveryFrameIsAPayload(t *testing.T, openapi openAPIDoc, payloads map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(openapi.Components.Schemas)) {
		if !strings.HasSuffix(name, "Frame") {
			continue
		}
		require.Contains(t, payloads, name,
			"schema %s of %s is the payload of no message in %s", name, openAPIPath, asyncAPIPath)
	}
}

// TestAsyncAPIExamplesShowEveryEventType checks what a reader of api/asyncapi.yaml takes from its
// examples: each one is a valid frame of its message's payload schema in api/openapi.yaml, each
// example event carries the payload its type names (`reaction.added` carries `reaction`, and no
// `message`), and every event type of the HTTP API is shown by some example, so a new event type
// cannot be added without being shown.
func TestAsyncAPIExamplesShowEveryEventType(t *testing.T) {
	t.Parallel()

	var async asyncAPIDoc
	readYAML(t, asyncAPIPath, &async)
	openapi, err := openapi3.NewLoader().LoadFromFile(openAPIPath)
	require.NoError(t, err)

	exampleValidation := []openapi3.SchemaValidationOption{
		openapi3.EnableFormatValidation(), // date-time
		openapi3.WithStringFormatValidator("uuid",
			openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
	}
	event := openapi.Components.Schemas[eventFrameSchema].Value.Properties["event"].Value
	shown := map[string]string{} // event type → the example that shows it
	for _, channelID := range slices.Sorted(maps.Keys(async.Channels)) {
		for _, messageID := range slices.Sorted(maps.Keys(async.Channels[channelID].Messages)) {
			message := async.Channels[channelID].Messages[messageID]
			name := strings.TrimPrefix(message.Payload.Ref, schemaRefPrefix)
			schema := openapi.Components.Schemas[name]
			require.NotNil(t, schema, "channel %s, message %s: no schema %s", channelID, messageID, name)
			for i, example := range message.Examples {
				where := "channel " + channelID + ", message " + messageID + ", example " + example.Name
				require.NotEmpty(t, example.Name, "channel %s, message %s: example %d has no name",
					channelID, messageID, i)
				payload := asJSON(t, where, example.Payload)
				require.NoError(t, schema.Value.VisitJSON(payload, exampleValidation...),
					"%s: not a valid %s", where, name)
				if name == eventFrameSchema {
					eventType := checkEventPayload(t, where, event, payload.(map[string]any)["event"].(map[string]any))
					shown[eventType] = where
				}
			}
		}
	}

	for _, value := range event.Properties["type"].Value.Enum {
		require.Contains(t, shown, value,
			"event type %s of %s is shown by no example of the %s message in %s",
			value, openAPIPath, eventFrameSchema, asyncAPIPath)
	}
}

// checkEventPayload checks that an example event carries the payload its type names (the type's
// part before the dot) and none of the others, and returns the event's type.
func checkEventPayload(t *testing.T, where string, schema *openapi3.Schema, event map[string]any) string {
	t.Helper()
	eventType, _ := event["type"].(string)
	carries, _, ok := strings.Cut(eventType, ".")
	require.True(t, ok, "%s: event type %q has no dot", where, eventType)
	require.Contains(t, schema.Properties, carries, "%s: Event has no property %s for a %s event to carry",
		where, carries, eventType)
	for _, property := range slices.Sorted(maps.Keys(schema.Properties)) {
		if slices.Contains(schema.Required, property) {
			continue // conversation_id, seq, … are in every event
		}
		if property == carries {
			require.Contains(t, event, property, "%s: a %s event carries %s", where, eventType, property)
		} else {
			require.NotContains(t, event, property, "%s: a %s event carries no %s", where, eventType, property)
		}
	}
	return eventType
}

// asJSON turns a value decoded from YAML into what decoding its JSON gives (numbers as float64),
// the form schemas validate.
func asJSON(t *testing.T, where string, value any) any {
	t.Helper()
	data, err := json.Marshal(value)
	require.NoError(t, err, "%s: not JSON", where)
	var decoded any
	require.NoError(t, json.Unmarshal(data, &decoded))
	return decoded
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, into), "%s does not parse", path)
}

// declaredTypes parses a Go file and maps each of its top-level type declarations to a kind:
// "struct", the name of the underlying identifier for a defined type such as `type X string`,
// "alias" for `type X = Y`, or "other".
func declaredTypes(t *testing.T, path string) map[string]string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	require.NoError(t, err, "%s does not parse", path)

	kinds := map[string]string{}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.TYPE {
			continue
		}
		for _, spec := range gen.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			if ts.Assign.IsValid() {
				kinds[ts.Name.Name] = "alias"
				continue
			}
			switch typ := ts.Type.(type) {
			case *ast.StructType:
				kinds[ts.Name.Name] = "struct"
			case *ast.Ident:
				kinds[ts.Name.Name] = typ.Name
			default:
				kinds[ts.Name.Name] = "other"
			}
		}
	}
	require.NotEmpty(t, kinds, "%s declares no types", path)
	return kinds
}
