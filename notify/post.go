package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/parleyhq/parley/gen/db"
)

// excerptBytes bounds the part of a failed answer's body kept in last_error; drainBytes bounds what
// is read to reuse the connection.
const (
	excerptBytes = 200
	drainBytes   = 64 << 10
)

// leaseMargin is kept between a POST's deadline and the end of its shard's lease.
const leaseMargin = 100 * time.Millisecond

// post sends one webhook, signed, and returns its outcome (a metrics label) and, unless the
// receiver answered 2xx, an error for last_error. The POST ends before leaseEnd, after which
// another node may send the shard.
func (s *Sender) post(ctx context.Context, r db.WebhookBatchRow, leaseEnd time.Time) (string, error) {
	deadline := time.Now().Add(s.cfg.Timeout)
	if end := leaseEnd.Add(-leaseMargin); end.Before(deadline) {
		deadline = end
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	now := time.Now()
	sig, err := s.signer.Sign(r.ID, now, []byte(r.Body))
	if err != nil {
		return outcomeConnectionError, fmt.Errorf("sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, strings.NewReader(r.Body))
	if err != nil {
		return outcomeConnectionError, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Parley")
	req.Header.Set(standardwebhooks.HeaderWebhookID, r.ID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return outcomeTimeout, fmt.Errorf("timeout: %w", err)
		}
		return outcomeConnectionError, fmt.Errorf("connection: %w", err)
	}
	defer resp.Body.Close()
	head := make([]byte, excerptBytes)
	n, _ := io.ReadFull(resp.Body, head)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBytes))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return outcomeOK, nil
	}
	err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, excerpt(head[:n]))
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		err = fmt.Errorf("%w: %w", errUnavailable, err)
	}
	return outcomeHTTPError, err
}

// errUnavailable marks an answer that says the receiver, rather than this webhook, has a problem.
var errUnavailable = errors.New("receiver unavailable")

// excerpt is the start of a body as one line of valid UTF-8, for last_error.
func excerpt(b []byte) string {
	return strings.Join(strings.Fields(string(bytes.ToValidUTF8(b, nil))), " ")
}
