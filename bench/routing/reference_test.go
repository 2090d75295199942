package routing

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"helpline/bench/benchkit"
)

// referenceEnv makes the test binary run the reference router instead of
// the benchmarks.
const referenceEnv = "HELPLINE_BENCH_REFERENCE_ROUTER"

// referenceReady starts the line the reference router prints with its
// HTTP address.
const referenceReady = "reference router listening on "

// runReferenceRouter is the reference for routing latency: the least a
// router does between "counselor free" and "INVITE sent". It serves
// POST /free?to=HOST:PORT&user=ID on loopback, answers 204 and, in a new
// goroutine as helpline's distributor does, sends an INVITE without SDP to
// the phone through sipgo. The phone records it and rejects it with 488,
// which the sipgo transaction acknowledges.
func runReferenceRouter() int {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "reference router: creating the user agent: %v\n", err)
		return 1
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "reference router: creating the client: %v\n", err)
		return 1
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "reference router: listening: %v\n", err)
		return 1
	}
	fmt.Println(referenceReady + listener.Addr().String())

	mux := http.NewServeMux()
	mux.HandleFunc("POST /free", func(w http.ResponseWriter, r *http.Request) {
		target, user := r.URL.Query().Get("to"), r.URL.Query().Get("user")
		host, portText, err := net.SplitHostPort(target)
		port, portErr := strconv.Atoi(portText)
		if err != nil || portErr != nil || user == "" {
			http.Error(w, "invalid query: want to=HOST:PORT&user=ID", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		go sendReferenceInvite(client, host, port, user)
	})
	if err := http.Serve(listener, mux); err != nil && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(os.Stderr, "reference router: serving HTTP: %v\n", err)
		return 1
	}
	return 0
}

func sendReferenceInvite(client *sipgo.Client, host string, port int, user string) {
	ctx, cancel := context.WithTimeout(context.Background(), offerTimeout)
	defer cancel()

	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}, Params: sip.NewParams()}
	req.AppendHeader(to)
	// The phone needs a Contact to read the INVITE; no dialog follows a 488.
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "reference", Host: "127.0.0.1"}})
	_, _ = client.Do(ctx, req)
}

// startReferenceRouter starts this test binary as the reference router,
// pinned to the server core when the machine allows, and returns its HTTP
// address. The process ends with the benchmark.
func startReferenceRouter(b *testing.B) string {
	args := []string{os.Args[0]}
	if benchkit.CanPin() {
		args = append([]string{"taskset", "-c", strconv.Itoa(benchkit.ServerCore)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), referenceEnv+"=1")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatalf("reference router: %v", err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the reference router: %v", err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	lines := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if addr, ok := strings.CutPrefix(scanner.Text(), referenceReady); ok {
				lines <- addr
			}
		}
	}()
	select {
	case addr := <-lines:
		return addr
	case <-time.After(settleTimeout):
		b.Fatalf("the reference router did not print its address within %s", settleTimeout)
		return ""
	}
}

// measureReference takes the reference samples: POST /free, then the
// time until the INVITE reaches the phone.
func measureReference(b *testing.B, ctx context.Context, phone *benchkit.Phone, routerAddr string) []time.Duration {
	client := &http.Client{Timeout: offerTimeout}
	url := fmt.Sprintf("http://%s/free?to=%s&user=", routerAddr, phone.Addr())

	var latencies []time.Duration
	for i := range *samples {
		user := benchkit.CounselorID(i % counselors)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+user, nil)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatalf("reference sample %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		offer, err := nextOffer(phone, offerTimeout)
		if err != nil {
			b.Fatalf("reference sample %d: %v", i, err)
		}
		latencies = append(latencies, offer.Received.Sub(start))
	}
	return latencies
}
