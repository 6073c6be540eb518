package cdn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/switchboardhq/switchboard"
)

// Notifier is the control plane's side of POST /internal/notify: it tells
// every CDN replica that an instance has a new artifact. It implements
// switchboard.PublishNotifier; failures are returned for logging only, since
// replicas also follow the change feed.
type Notifier struct {
	// URLs are the replicas' base URLs.
	URLs   []string
	Secret string
	Client *http.Client
}

var _ switchboard.PublishNotifier = (*Notifier)(nil)

// Notify posts the notice to every replica.
func (n *Notifier) Notify(ctx context.Context, instanceID string) error {
	body, err := json.Marshal(notifyRequest{InstanceID: instanceID})
	if err != nil {
		return err
	}
	client := n.Client
	if client == nil {
		client = http.DefaultClient
	}
	var errs []error
	for _, base := range n.URLs {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/internal/notify", bytes.NewReader(body))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(NotifySecretHeader, n.Secret)
		res, err := client.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			errs = append(errs, fmt.Errorf("notify %s: %s", base, res.Status))
		}
	}
	return errors.Join(errs...)
}
