package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// storeFailure is the error of the fake's unavailable event.
const storeFailure = "the queue or records store did not answer: try again; the server log has the cause"

// The board shows the store failure its stream reports, instead of old
// figures as if they were current, and hides it at the next snapshot.
func TestBoardShowsStoreFailure(t *testing.T) {
	fake := &pageAPI{role: "supervisor"}
	recovered := make(chan struct{})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/session", fake.session)
	mux.HandleFunc("GET /api/v1/board/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		flusher := w.(http.Flusher)
		snapshots := boardSnapshots(time.Now())
		send := func(event string, data any) {
			body, _ := json.Marshal(data)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, body)
			flusher.Flush()
		}

		fmt.Fprint(w, "retry: 2000\n\n")
		send("board", snapshots[0])
		send("unavailable", map[string]string{"error": storeFailure})
		select {
		case <-recovered:
			send("board", snapshots[1])
		case <-r.Context().Done():
			return
		}
		<-r.Context().Done()
	})
	mux.Handle("/", signedPages())
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)

	b := StartBrowser(t, BrowserOptions{})
	b.Navigate(server.URL + "/board")
	b.WaitVisible("#notice.hl-error")
	if text := b.Text("#notice .hl-notice-text"); !strings.Contains(text, storeFailure) {
		t.Errorf("board: notice reads %q, want the stream's error %q", text, storeFailure)
	}

	close(recovered)
	b.WaitVisible(`.waiting-row[data-call-id="cb-0123456789abcdef"]`)
	b.WaitNotVisible("#notice")
}
