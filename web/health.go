package web

import (
	"net/http"
)

// ReadyReporter is a part of the server that can tell whether it can take
// traffic. queue.Buffered implements it.
type ReadyReporter interface {
	// Ready returns nil when the part is ready, else an error whose
	// message may be shown without authentication.
	Ready() error
}

// ReadyCheck is one condition of /readyz.
type ReadyCheck struct {
	// Name names the part checked, such as "queue" or "draining".
	Name string
	// Check returns nil while the part is ready, else the reason it is not.
	Check func() error
}

// readyBody is the JSON body of /readyz.
type readyBody struct {
	// Status is "ready" or "not_ready".
	Status string `json:"status"`
	// Reasons lists "<check>: <reason>" for every check that failed.
	Reasons []string `json:"reasons,omitempty"`
}

// Values of readyBody.Status.
const (
	statusReady    = "ready"
	statusNotReady = "not_ready"
)

// RegisterHealth adds the health routes to api, served without a token:
//
//	GET /healthz   200 "ok" while the process runs
//	GET /readyz    200 {"status":"ready"} when every check passes, else
//	               503 {"status":"not_ready","reasons":["<check>: <reason>"]}
//
// A load balancer or orchestrator sends new calls only to a ready node and
// restarts a node whose /healthz fails.
func RegisterHealth(api *API, checks ...ReadyCheck) {
	api.HandlePublic("GET /healthz", serveHealthz)
	api.HandlePublic("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		serveReadyz(w, checks)
	})
}

func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func serveReadyz(w http.ResponseWriter, checks []ReadyCheck) {
	body := readyBody{Status: statusReady}
	for _, check := range checks {
		if err := check.Check(); err != nil {
			body.Reasons = append(body.Reasons, check.Name+": "+err.Error())
		}
	}

	status := http.StatusOK
	if len(body.Reasons) > 0 {
		body.Status, status = statusNotReady, http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, status, body)
}
