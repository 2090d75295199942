package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// APITokenEnv is the environment variable that carries the API token.
const APITokenEnv = "HELPLINE_API_TOKEN"

// apiRequestTimeout bounds one API request.
const apiRequestTimeout = 10 * time.Second

// loginTimeout bounds LoginCounselor's retries. A login right after the
// phone saw its 200 to REGISTER can come before the server applied the
// binding, and the API then responds 409.
const loginTimeout = 20 * time.Second

// loginRetryInterval is the pause between login attempts.
const loginRetryInterval = 100 * time.Millisecond

// APIResponse is the response to one API request.
type APIResponse struct {
	// Status is the HTTP status code.
	Status int
	// Body is the decoded JSON body, nil when it was not a JSON object.
	Body map[string]any
	// Raw is the body as received.
	Raw string
}

// APIURL returns the base URL of the server's API, http://127.0.0.1:port.
func (s *Server) APIURL() string {
	return "http://" + net.JoinHostPort(Loopback, strconv.Itoa(s.APIPort))
}

// API sends a request to the server's API with the harness's token, or
// with token when it is given ("" sends no Authorization header), and
// returns the response. body is sent as JSON unless it is nil.
func (s *Server) API(t testing.TB, method, path string, body any, token ...string) APIResponse {
	t.Helper()

	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("encoding the API request body: %v", err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.APIURL()+path, reader)
	if err != nil {
		t.Fatalf("building the API request: %v", err)
	}
	bearer := s.APIToken
	if len(token) > 0 {
		bearer = token[0]
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}

	client := http.Client{Timeout: apiRequestTimeout}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	answer := APIResponse{Status: res.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &answer.Body)
	return answer
}

// SetCounselorState posts a state change for counselor id and returns the
// response.
func (s *Server) SetCounselorState(t testing.TB, id, state, reason string) APIResponse {
	t.Helper()
	body := map[string]string{"state": state}
	if reason != "" {
		body["reason"] = reason
	}
	return s.API(t, http.MethodPost, "/api/v1/counselors/"+id+"/state", body)
}

// LoginCounselor logs counselor id in through the API, so that the server
// offers callers to the counselor's registered phone. It retries while the
// server answers 409 (the registration not applied yet) and fails the test
// on any other error or after 20 s.
func (s *Server) LoginCounselor(t testing.TB, id string) {
	t.Helper()

	deadline := time.Now().Add(loginTimeout)
	for {
		answer := s.SetCounselorState(t, id, "available", "")
		if answer.Status == http.StatusOK {
			return
		}
		if answer.Status != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("logging in counselor %s: %d %s", id, answer.Status, answer.Raw)
		}
		time.Sleep(loginRetryInterval)
	}
}

// CounselorStatus returns counselor id as GET /api/v1/counselors lists it.
func (s *Server) CounselorStatus(t testing.TB, id string) map[string]any {
	t.Helper()

	answer := s.API(t, http.MethodGet, "/api/v1/counselors", nil)
	if answer.Status != http.StatusOK {
		t.Fatalf("listing counselors: %d %s", answer.Status, answer.Raw)
	}
	list, _ := answer.Body["counselors"].([]any)
	for _, entry := range list {
		c, _ := entry.(map[string]any)
		if c["id"] == id {
			return c
		}
	}
	t.Fatalf("counselor %s is not listed: %s", id, answer.Raw)
	return nil
}

// WaitCounselorState waits until counselor id is listed in state.
func (s *Server) WaitCounselorState(t testing.TB, id, state string, timeout time.Duration) map[string]any {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for {
		c := s.CounselorStatus(t, id)
		if c["state"] == state {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("counselor %s is %v, want %s after %s", id, c["state"], state, timeout)
		}
		time.Sleep(loginRetryInterval)
	}
}

// String formats the response for failure messages.
func (a APIResponse) String() string {
	return fmt.Sprintf("%d %s", a.Status, a.Raw)
}
