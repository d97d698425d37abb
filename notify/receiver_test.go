package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// testSecret signs the tests' webhooks; its key is the bytes "parley-test-key-0123456789abcdef".
const testSecret = "whsec_cGFybGV5LXRlc3Qta2V5LTAxMjM0NTY3ODlhYmNkZWY="

// delivery is one request the receiver got.
type delivery struct {
	ID, Path string
	Status   int
	At       time.Time
}

// receiver is a webhook endpoint on 127.0.0.1 that verifies every signature, answers as answer
// says, and checks the contract as requests arrive: no two requests of one conversation at once,
// and seq k+1 of a conversation only after k was acknowledged.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	verify *standardwebhooks.Webhook

	mu         sync.Mutex
	answer     func(id string) int // the status to answer; nil answers 200
	deliveries []delivery
	acked      map[string]bool // ids answered 2xx
	inFlight   map[string]bool // conversations with a request in progress
	violations []string
	hold       chan struct{} // when not nil, requests wait on it before answering
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	v, err := standardwebhooks.NewWebhook(testSecret)
	require.NoError(t, err)
	r := &receiver{t: t, verify: v, acked: map[string]bool{}, inFlight: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get("webhook-id")
	conv, seq := splitID(id)
	r.mu.Lock()
	if err := r.verify.Verify(body, req.Header); err != nil {
		r.violations = append(r.violations, "bad signature on "+id+": "+err.Error())
	}
	var b struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Evt  json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ID != id || req.Header.Get("Content-Type") != "application/json" || req.Header.Get("User-Agent") != "Parley" {
		r.violations = append(r.violations, "bad request for "+id+": "+string(body))
	}
	if r.inFlight[conv] {
		r.violations = append(r.violations, "concurrent requests for "+conv)
	}
	if seq > 1 && !r.acked[conv+":"+itoa(seq-1)] {
		r.violations = append(r.violations, id+" before its predecessor was acknowledged")
	}
	r.inFlight[conv] = true
	answer, hold := r.answer, r.hold
	r.mu.Unlock()

	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
		}
	}
	status := http.StatusOK
	if answer != nil {
		status = answer(id)
	}
	r.mu.Lock()
	delete(r.inFlight, conv)
	r.deliveries = append(r.deliveries, delivery{ID: id, Path: req.URL.Path, Status: status, At: time.Now()})
	if status/100 == 2 {
		r.acked[id] = true
	}
	r.mu.Unlock()
	if status < 0 { // hang up without an answer: a connection error for the sender
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, strings.Repeat("x", 1000)) // longer than the excerpt kept
}

func (r *receiver) setAnswer(f func(id string) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = f
}

// all returns the deliveries so far.
func (r *receiver) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.deliveries...)
}

// ackedCount is how many distinct ids were acknowledged.
func (r *receiver) ackedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acked)
}

func (r *receiver) isAcked(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acked[id]
}

// checkContract fails the test with the violations seen.
func (r *receiver) checkContract() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(r.t, r.violations)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not waiting for time to pass
	}
}

func splitID(id string) (conv string, seq int64) {
	i := strings.LastIndexByte(id, ':')
	if i < 0 {
		return id, 0
	}
	var n int64
	for _, c := range id[i+1:] {
		n = n*10 + int64(c-'0')
	}
	return id[:i], n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
