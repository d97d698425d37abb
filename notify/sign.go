package notify

import (
	"strings"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// newSigner signs webhooks with secret: "whsec_<base64>" is that key (the Standard Webhooks
// form), anything else is the key's own bytes.
func newSigner(secret string) (*standardwebhooks.Webhook, error) {
	if strings.HasPrefix(secret, "whsec_") {
		return standardwebhooks.NewWebhook(secret)
	}
	return standardwebhooks.NewWebhookRaw([]byte(secret))
}
