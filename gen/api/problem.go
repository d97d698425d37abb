package api

// This file is written by hand (the rest of the package is generated): the one obvious way to get
// the problem of any failed response, whatever its status.

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Response is what every ClientWithResponses method returns (*CreateConversationResponse, …).
type Response interface {
	StatusCode() int
	GetBody() []byte
}

// ProblemOf returns the problem of a failed response (status 400 or above) of any
// ClientWithResponses method, and nil for a success. resp must be a response the client returned
// (check its error first). An answer that is not Parley's problem+json (a proxy's 502, a 431 from
// the HTTP server) still gives a Problem: its status and standard text, with no code.
//
// *Problem is an error: return it, wrap it, and find it again with errors.As.
func ProblemOf(resp Response) *Problem {
	status := resp.StatusCode()
	if status < 400 {
		return nil
	}
	var p Problem
	if err := json.Unmarshal(resp.GetBody(), &p); err != nil || p.Status != status || p.Code == "" {
		p = Problem{Type: "about:blank", Title: http.StatusText(status), Status: status}
	}
	return &p
}

// Error says the status, the code and what happened: `404 conversation_not_found: No such …`.
func (p *Problem) Error() string {
	text := p.Title
	if p.Detail != nil && *p.Detail != "" {
		text = *p.Detail
	}
	if p.Code == "" {
		return fmt.Sprintf("%d: %s", p.Status, text)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Code, text)
}
