package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSignatureKnownVector checks the signature against one computed by hand, as the Standard
// Webhooks specification defines it: base64(HMAC-SHA256(key, id.timestamp.body)), prefixed v1.
func TestSignatureKnownVector(t *testing.T) {
	t.Parallel()
	const id = "7f1c2a9e-3b5d-4c8e-9a1f-2b3c4d5e6f70:42"
	const body = `{"id":"7f1c2a9e-3b5d-4c8e-9a1f-2b3c4d5e6f70:42","type":"message.created","event":{}}`
	ts := time.Unix(1_700_000_000, 0)

	for name, tc := range map[string]struct{ secret, key string }{
		"whsec form": {testSecret, "parley-test-key-0123456789abcdef"},
		"raw bytes":  {"plain secret", "plain secret"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mac := hmac.New(sha256.New, []byte(tc.key))
			mac.Write([]byte(id + ".1700000000." + body))
			want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))

			s, err := newSigner(tc.secret)
			require.NoError(t, err)
			got, err := s.Sign(id, ts, []byte(body))
			require.NoError(t, err)
			require.Equal(t, want, got)

			h := http.Header{}
			h.Set("webhook-id", id)
			h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
			h.Set("webhook-signature", got)
			require.NoError(t, s.VerifyIgnoringTimestamp([]byte(body), h))
			require.Error(t, s.VerifyIgnoringTimestamp([]byte(body+" "), h), "a changed body fails")
		})
	}
}
