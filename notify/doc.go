// Package notify renders Ramp's notifications (a generic JSON document, a
// Slack incoming-webhook message, a Microsoft Teams Workflows Adaptive Card)
// and delivers them with a bounded sender: a fixed number of workers, a
// bounded queue, a timeout per request, and retries with exponential backoff
// and jitter on network errors, 429 and 5xx (Retry-After respected within a
// cap). It knows nothing of Kubernetes: the controller hands it messages.
package notify
