package server

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/parleyhq/parley/devtoken"
)

// demoTokenTTL is how long a token the demo page signs in with lasts: a working day.
const demoTokenTTL = 12 * time.Hour

// withDemo serves the demo chat page at /demo/ beside the API, with POST /demo/token, which
// signs a token for any user name with the server's own HS256 secret: that is how the page signs
// in. It exists only on a development server (Config.DemoFiles is set by `serve --dev`), which
// trusts anyone who can reach it anyway; it is not part of the API and not in its document.
func (s *Server) withDemo(api http.Handler, files fs.FS) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("GET /demo/", http.StripPrefix("/demo", http.FileServerFS(files)))
	mux.Handle("GET /demo", http.RedirectHandler("/demo/", http.StatusMovedPermanently))
	mux.HandleFunc("POST /demo/token", s.demoToken)
	return mux
}

func (s *Server) demoToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"user_id"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil {
		writeProblem(w, newProblem(http.StatusBadRequest, "invalid_body", "The body must be JSON: {\"user_id\": \"alice\"}."))
		return
	}
	req.UserID = strings.TrimSpace(req.UserID)
	if err := devtoken.CheckUserID(req.UserID); err != nil {
		writeProblem(w, newProblem(http.StatusBadRequest, "invalid_user_id", "A user name is 1 to 128 of A-Z a-z 0-9 . _ : @ -."))
		return
	}
	token, err := devtoken.Issue(s.cfg.Auth.Secret, req.UserID, s.cfg.Auth.Issuer, s.cfg.Auth.Audience, demoTokenTTL)
	if err != nil {
		s.logger.ErrorContext(r.Context(), "sign demo token", "error", err)
		writeProblem(w, newProblem(http.StatusInternalServerError, "internal", "The token could not be signed."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
}
