package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// rateClass is the rate limit an operation counts against, from its x-parley-rate extension.
type rateClass string

const (
	rateNone       rateClass = "none"
	rateSends      rateClass = "sends"      // per user
	rateWrites     rateClass = "writes"     // per user
	rateHandshakes rateClass = "handshakes" // per client address, before authentication
)

// rateExtension names an operation's rate class in api/openapi.yaml.
const rateExtension = "x-parley-rate"

// operation is an operation of the spec with the decisions the middleware takes on it. They are
// read from the spec once, at start, so renaming a path cannot silently drop a limit or a check.
type operation struct {
	id   string
	path string // the spec's path template, e.g. /v1/conversations/{conversation_id}
	// bearer: the request needs a bearer token. tokenParam, when set, names a query parameter that
	// may carry the token instead (browsers cannot set headers on a WebSocket handshake).
	bearer     bool
	tokenParam string
	rate       rateClass
	hasBody    bool // the operation takes a request body
	upgrade    bool // the operation answers 101: a WebSocket handshake the hub serves
}

// routeMatch is what the router made of a request: its operation, or why there is none.
type routeMatch struct {
	op         *operation
	route      *routers.Route
	pathParams map[string]string
	err        error // routers.ErrPathNotFound or routers.ErrMethodNotAllowed when op is nil
}

type routeMatchKey struct{}

// matchFrom returns the request's route match; false when the request has not been routed.
func matchFrom(ctx context.Context) (routeMatch, bool) {
	m, ok := ctx.Value(routeMatchKey{}).(routeMatch)
	return m, ok
}

// operationFrom returns the operation the router matched, or nil.
func operationFrom(ctx context.Context) *operation {
	m, _ := matchFrom(ctx)
	return m.op
}

// operationRouter finds the operation of the spec a request is for.
type operationRouter struct {
	router routers.Router
	byID   map[string]*operation
}

// newOperationRouter routes over doc, which it owns from then on (its servers are cleared so any
// host matches). An operation without a known auth decision or rate class stops the start.
func newOperationRouter(doc *openapi3.T) (*operationRouter, error) {
	doc.Servers = nil
	byID := map[string]*operation{}
	for path, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			decided, err := decide(doc, path, op)
			if err != nil {
				return nil, fmt.Errorf("operation %s %s: %w", op.OperationID, path, err)
			}
			byID[op.OperationID] = decided
		}
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	return &operationRouter{router: router, byID: byID}, nil
}

func decide(doc *openapi3.T, path string, op *openapi3.Operation) (*operation, error) {
	rate, _ := op.Extensions[rateExtension].(string)
	switch c := rateClass(rate); c {
	case rateNone, rateSends, rateWrites, rateHandshakes:
	default:
		return nil, fmt.Errorf("%s is %q: want one of none, sends, writes, handshakes", rateExtension, rate)
	}
	d := &operation{
		id: op.OperationID, path: path, rate: rateClass(rate),
		hasBody: op.RequestBody != nil,
		upgrade: op.Responses.Status(http.StatusSwitchingProtocols) != nil,
	}
	requirements := doc.Security
	if op.Security != nil {
		requirements = *op.Security
	}
	for _, requirement := range requirements {
		// Each requirement is an alternative; Parley's name one scheme each. An empty one would
		// make the token optional, which no operation is.
		if len(requirement) != 1 {
			return nil, fmt.Errorf("security requirement %v: want exactly one scheme", requirement)
		}
		for name := range requirement {
			ref := doc.Components.SecuritySchemes[name]
			if ref == nil || ref.Value == nil {
				return nil, fmt.Errorf("security scheme %q is not defined", name)
			}
			switch s := ref.Value; {
			case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
				d.bearer = true
			case s.Type == "apiKey" && s.In == "query":
				d.tokenParam = s.Name
			default:
				return nil, fmt.Errorf("security scheme %q (%s %s): the server verifies bearer tokens only", name, s.Type, s.In)
			}
		}
	}
	if d.tokenParam != "" && !d.bearer {
		return nil, errors.New("a token in the query is an alternative to the Authorization header, not a replacement")
	}
	return d, nil
}

// resolve finds each request's operation, once, and puts the match in the request's context for
// everything after it: metrics, auth, rate limits, body checks, validation and the WebSocket
// intercept. It answers nothing itself, so the metrics count unmatched requests too.
func (o *operationRouter) resolve(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m routeMatch
		route, params, err := o.router.FindRoute(r)
		if err == nil {
			// The router hands out path parameters as the request wrote them when it escaped
			// more than it had to (%61lice); validation checks them decoded, as handlers get them.
			for name, value := range params {
				if decoded, err := url.PathUnescape(value); err == nil {
					params[name] = decoded
				}
			}
			m = routeMatch{op: o.byID[route.Operation.OperationID], route: route, pathParams: params}
		} else {
			m.err = err
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeMatchKey{}, m)))
	})
}

// refuseUnmatched answers a request for no operation of the spec: 405 when the path exists with
// other methods, 404 otherwise.
func refuseUnmatched(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, _ := matchFrom(r.Context())
		switch {
		case m.op != nil:
			next.ServeHTTP(w, r)
		case errors.Is(m.err, routers.ErrMethodNotAllowed):
			writeProblem(w, newProblem(http.StatusMethodNotAllowed, "method_not_allowed", "This path does not support that method."))
		default:
			writeProblem(w, newProblem(http.StatusNotFound, "not_found", "No such route."))
		}
	})
}
