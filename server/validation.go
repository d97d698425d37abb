package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/parleyhq/parley/gen/api"
	"github.com/parleyhq/parley/gen/apiserver"
)

// bodyGuard reads the body of a request whose operation takes one, up to maxBytes, and checks what
// the spec validator cannot: its size (413), its media type (415), that it is valid UTF-8 (the JSON
// decoder would silently replace bad bytes) and that it is exactly one JSON value (the decoder
// would ignore trailing bytes). Bodies are small, so holding one in memory is cheap.
func bodyGuard(maxBytes int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if op := operationFrom(r.Context()); r.Body == nil || r.Body == http.NoBody || op == nil || !op.hasBody {
				// An operation without a request body never reads one.
				next.ServeHTTP(w, r)
				return
			}
			if r.ContentLength > maxBytes {
				writeProblem(w, tooLarge(maxBytes))
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeProblem(w, tooLarge(maxBytes))
				return
			}
			if err != nil {
				writeProblem(w, newProblem(http.StatusBadRequest, "unreadable_body", "The request body could not be read."))
				return
			}
			if len(body) > 0 {
				mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
				if err != nil || mediaType != "application/json" {
					writeProblem(w, newProblem(http.StatusUnsupportedMediaType, "unsupported_media_type", "The request body must be application/json."))
					return
				}
				if !utf8.Valid(body) {
					writeProblem(w, newProblem(http.StatusBadRequest, "invalid_utf8", "The request body is not valid UTF-8."))
					return
				}
				// One JSON value and nothing after it, nested no deeper than the decoder allows.
				if !json.Valid(body) {
					writeProblem(w, newProblem(http.StatusBadRequest, "invalid_json", "The request body is not valid JSON."))
					return
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			next.ServeHTTP(w, r)
		})
	}
}

func tooLarge(maxBytes int64) api.Problem {
	return newProblem(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("The request body is larger than %d bytes.", maxBytes))
}

// validateRequest checks every request against the operation the router matched: parameters,
// bodies, lengths, ranges and formats. Authentication is the auth middleware's job, so the
// validator's is a no-op.
func validateRequest(next http.Handler) http.Handler {
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, _ := matchFrom(r.Context())
		if m.route == nil {
			next.ServeHTTP(w, r) // unmatched requests were answered before
			return
		}
		err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
			Request: r, PathParams: m.pathParams, Route: m.route, Options: opts,
		})
		if err != nil {
			writeProblem(w, validationProblem(err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validationProblem turns the validator's errors into a 400 that names each field and why.
func validationProblem(err error) api.Problem {
	var all []api.FieldError
	collectFieldErrors(err, &all)
	// One reason per field, the first: an empty string is one mistake, though it fails both the
	// schema's minLength and its pattern.
	var fields []api.FieldError
	seen := map[string]bool{}
	for _, f := range all {
		if !seen[f.Field] {
			seen[f.Field] = true
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		fields = append(fields, api.FieldError{Field: "request", Reason: "invalid"})
	}
	details := make([]string, len(fields))
	for i, f := range fields {
		details[i] = f.Field + ": " + f.Reason
	}
	p := newProblem(http.StatusBadRequest, "invalid_request", strings.Join(details, "; "))
	p.Errors = &fields
	return p
}

func collectFieldErrors(err error, out *[]api.FieldError) {
	// A type switch, not errors.As: a RequestError wraps a MultiError of its own schema errors.
	var reqErr *openapi3filter.RequestError
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, inner := range e {
			collectFieldErrors(inner, out)
		}
		return
	case *openapi3filter.RequestError:
		reqErr = e
	default:
		return
	}
	switch {
	case reqErr.Parameter != nil:
		*out = append(*out, api.FieldError{Field: reqErr.Parameter.Name, Reason: reasonOf(reqErr)})
	case reqErr.RequestBody != nil:
		var bodyMulti openapi3.MultiError
		if errors.As(reqErr.Err, &bodyMulti) {
			for _, e := range bodyMulti {
				*out = append(*out, bodyFieldError(e))
			}
			return
		}
		*out = append(*out, bodyFieldError(reqErr.Err))
	default:
		*out = append(*out, api.FieldError{Field: "request", Reason: reasonOf(reqErr)})
	}
}

func bodyFieldError(err error) api.FieldError {
	var schemaErr *openapi3.SchemaError
	if errors.As(err, &schemaErr) {
		field := "body"
		if ptr := schemaErr.JSONPointer(); len(ptr) > 0 {
			field = strings.Join(ptr, ".")
		}
		return api.FieldError{Field: field, Reason: innermost(schemaErr).Reason}
	}
	var parseErr *openapi3filter.ParseError
	if errors.As(err, &parseErr) {
		return api.FieldError{Field: "body", Reason: "not valid JSON"}
	}
	if err == nil || errors.Is(err, openapi3filter.ErrInvalidRequired) {
		return api.FieldError{Field: "body", Reason: "a JSON body is required"}
	}
	return api.FieldError{Field: "body", Reason: "invalid"}
}

// innermost is the error of the schema a value failed: "doesn't match all schemas from allOf" says
// only where to look.
func innermost(e *openapi3.SchemaError) *openapi3.SchemaError {
	for e.SchemaField == "allOf" || e.SchemaField == "anyOf" || e.SchemaField == "oneOf" {
		var inner *openapi3.SchemaError
		if !errors.As(e.Origin, &inner) {
			break
		}
		e = inner
	}
	return e
}

func reasonOf(reqErr *openapi3filter.RequestError) string {
	var schemaErr *openapi3.SchemaError
	if errors.As(reqErr.Err, &schemaErr) {
		return schemaErr.Reason
	}
	var parseErr *openapi3filter.ParseError
	if errors.As(reqErr.Err, &parseErr) {
		return "malformed value"
	}
	if reqErr.Reason != "" {
		return reqErr.Reason
	}
	return "invalid"
}

// paramErrorHandler answers parameter binding failures of the generated router.
func paramErrorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	field := "parameter"
	var (
		format   *apiserver.InvalidParamFormatError
		required *apiserver.RequiredParamError
		tooMany  *apiserver.TooManyValuesForParamError
		header   *apiserver.RequiredHeaderError
		unmarsh  *apiserver.UnmarshalingParamError
	)
	switch {
	case errors.As(err, &format):
		field = format.ParamName
	case errors.As(err, &required):
		field = required.ParamName
	case errors.As(err, &tooMany):
		field = tooMany.ParamName
	case errors.As(err, &header):
		field = header.ParamName
	case errors.As(err, &unmarsh):
		field = unmarsh.ParamName
	}
	fields := []api.FieldError{{Field: field, Reason: "malformed value"}}
	p := newProblem(http.StatusBadRequest, "invalid_parameter", field+": malformed value")
	p.Errors = &fields
	writeProblem(w, p)
}

// requestErrorHandler answers bodies the strict handler cannot decode into its request type.
func requestErrorHandler(w http.ResponseWriter, _ *http.Request, _ error) {
	writeProblem(w, newProblem(http.StatusBadRequest, "invalid_request", "The request body does not match the operation's schema."))
}

// responseErrorHandler answers a handler's error: an expected failure (*problemError) with its
// status and code; otherwise 503 when the database is out of reach, 500 when not. An unexpected
// error goes to the log, never to the client.
func responseErrorHandler(logger *slog.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		var expected *problemError
		if errors.As(err, &expected) {
			writeProblem(w, expected.problem())
			return
		}
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			return // the client went away; nobody reads an answer
		}
		if dependencyUnavailable(err) {
			logger.WarnContext(r.Context(), "dependency unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
			writeProblem(w, newProblem(http.StatusServiceUnavailable, "unavailable", "A dependency is unavailable; try again shortly."))
			return
		}
		logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeProblem(w, newProblem(http.StatusInternalServerError, "internal_error", "An unexpected error occurred; it has been logged."))
	}
}
