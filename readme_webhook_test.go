package parley_test

import (
	"encoding/json"
	"io"
	"net/http"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/parleyhq/parley/gen/api"
)

// webhookHandler receives Parley's webhooks: it checks each one's signature and hands on the new
// messages and the notification requests. Delivery is at least once: handle must ignore an id it
// has seen (the same id is the same webhook).
func webhookHandler(secret string, handle func(id string, message *api.Message, push *api.Notification) error) (http.Handler, error) {
	wh, err := standardwebhooks.NewWebhook(secret) // as given to --webhook-secret: whsec_<base64>
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || wh.Verify(body, r.Header) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var hook struct {
			ID           string            `json:"id"`
			Type         string            `json:"type"`
			Event        *api.Event        `json:"event"`
			Notification *api.Notification `json:"notification"`
		}
		if err := json.Unmarshal(body, &hook); err != nil {
			http.Error(w, "not a webhook", http.StatusBadRequest)
			return
		}
		var message *api.Message
		if hook.Type == string(api.EventTypeMessageCreated) {
			message = hook.Event.Message
		}
		if err := handle(hook.ID, message, hook.Notification); err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable) // Parley retries
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), nil
}
