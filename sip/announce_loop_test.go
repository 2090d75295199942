package sip

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/media"
	"helpline/queue"
)

// rtpHeaderBytes is the size of an RTP header without CSRCs or extension,
// which is what media.Session sends.
const rtpHeaderBytes = 12

// labelledPrompts are the prompts of the hold loop test. Each is one or two
// frames of one constant sample value, so that a received packet identifies
// which prompt it came from.
var labelledPrompts = []struct {
	name   string
	value  int16
	frames int
}{
	{"comfort", 1000, 1},
	{"music", 2000, 2},
	{"position_intro", 3000, 1},
	{"position_1", 4000, 1},
	{"position_outro", 5000, 1},
	{"wait_intro", 6000, 1},
	{"minutes_5", 7000, 1},
	{"wait_outro", 8000, 1},
}

// labelledCache returns a prompt cache for language "ko" holding
// labelledPrompts.
func labelledCache() *PromptCache {
	prompts := make(map[string]*media.Audio, len(labelledPrompts))
	for _, p := range labelledPrompts {
		samples := make([]int16, p.frames*media.FrameSamples)
		for i := range samples {
			samples[i] = p.value
		}
		prompts[p.name] = &media.Audio{Samples: samples}
	}
	return &PromptCache{byLanguage: map[string]map[string]*media.Audio{"ko": prompts}}
}

// labelOf returns the name of the labelled prompt whose value is nearest
// to the decoded μ-law payload's first sample.
func labelOf(payload []byte) string {
	sample := int(media.DecodeULaw(payload[0]))
	best, bestDistance := "", 1<<30
	for _, p := range labelledPrompts {
		distance := sample - int(p.value)
		if distance < 0 {
			distance = -distance
		}
		if distance < bestDistance {
			best, bestDistance = p.name, distance
		}
	}
	return best
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	// mu guards buf.
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// receiveLabels reads RTP packets from conn until it has n or the deadline
// passes, and returns the label of each, with runs of music merged into one.
func receiveLabels(t *testing.T, conn *net.UDPConn, n int) []string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var labels []string
	buf := make([]byte, 1500)
	for received := 0; received < n; received++ {
		size, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after %d packets (%v): %v", received, labels, err)
		}
		if size <= rtpHeaderBytes {
			t.Fatalf("packet %d has %d bytes, no payload", received, size)
		}
		label := labelOf(buf[rtpHeaderBytes:size])
		if label == "music" && len(labels) > 0 && labels[len(labels)-1] == "music" {
			continue
		}
		labels = append(labels, label)
	}
	return labels
}

// newHoldTestCall returns a call in queue "loneliness" whose caller media
// sends to the returned socket, with announcements every interval.
func newHoldTestCall(t *testing.T, interval time.Duration, log zerolog.Logger) (*call, *net.UDPConn) {
	t.Helper()
	listen := func() *net.UDPConn {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatalf("listen on loopback: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	local, sink := listen(), listen()
	session := media.NewSession(media.SessionConfig{
		Conn:   local,
		Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort(),
		Codec:  media.PCMU,
	})
	t.Cleanup(func() { session.Close() })

	store := queue.NewMemoryStore()
	caller := queue.Caller{CallID: "call-1", Queue: "loneliness", EnqueuedAt: time.Now()}
	if err := store.Enqueue(context.Background(), caller); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	srv := &Server{
		opts:    Options{AnnounceInterval: interval},
		log:     log,
		queue:   store,
		prompts: labelledCache(),
		waits:   queue.NewWaitEstimator(),
	}
	return &call{id: "call-1", srv: srv, log: log, callerMedia: session, queue: "loneliness"}, sink
}

// runHoldLoop runs the call's hold loop until n packets arrived and returns
// their labels.
func runHoldLoop(t *testing.T, c *call, sink *net.UDPConn, n int) []string {
	t.Helper()
	comfort, _ := c.srv.prompts.audio("comfort", "ko")
	music, _ := c.srv.prompts.audio("music", "ko")

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.holdLoop(ctx, "ko", comfort, music) }()
	labels := receiveLabels(t, sink, n)
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("holdLoop returned %v, want context.Canceled", err)
	}
	return labels
}

func TestHoldLoopAnnouncesBetweenComfortAndMusic(t *testing.T) {
	logs := &syncBuffer{}
	c, sink := newHoldTestCall(t, time.Second, zerolog.New(logs).Level(zerolog.DebugLevel))

	// Two cycles of 1 s at 50 packets a second, and some more.
	labels := runHoldLoop(t, c, sink, 120)

	// With no counselor logged in, the estimate is the default handle time
	// of 5 minutes for position 1.
	announcement := []string{"position_intro", "position_1", "position_outro", "wait_intro", "minutes_5", "wait_outro"}
	want := []string{"comfort", "music"}
	want = append(want, announcement...)
	want = append(want, "comfort", "music")
	want = append(want, announcement...)
	if len(labels) < len(want) || strings.Join(labels[:len(want)], " ") != strings.Join(want, " ") {
		t.Errorf("caller heard\n%v\nwant it to start with\n%v", labels, want)
	}
	if got := strings.Count(logs.String(), `"message":"position announced"`); got < 2 {
		t.Errorf("logged %d position announcements, want 2 or more:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), `"position":1`) {
		t.Errorf("announcement log lacks position 1:\n%s", logs.String())
	}
}

func TestHoldLoopWithoutInterval(t *testing.T) {
	c, sink := newHoldTestCall(t, 0, zerolog.Nop())

	labels := runHoldLoop(t, c, sink, 30)

	if labels[0] != "comfort" {
		t.Errorf("first prompt = %s, want comfort", labels[0])
	}
	for _, label := range labels[1:] {
		if label != "music" {
			t.Errorf("caller heard %v, want comfort then only music when announcements are off", labels)
			break
		}
	}
}

func TestHoldLoopSkipsCallerNoLongerWaiting(t *testing.T) {
	logs := &syncBuffer{}
	c, sink := newHoldTestCall(t, 200*time.Millisecond, zerolog.New(logs).Level(zerolog.DebugLevel))
	if _, err := c.srv.queue.Leave(context.Background(), "call-1"); err != nil {
		t.Fatalf("Leave: %v", err)
	}

	labels := runHoldLoop(t, c, sink, 40)

	for _, label := range labels {
		if label != "comfort" && label != "music" {
			t.Errorf("caller heard %v, want no announcement for a caller no longer waiting", labels)
			break
		}
	}
	if strings.Contains(logs.String(), "position announced") {
		t.Errorf("announcement logged for a caller no longer waiting:\n%s", logs.String())
	}
}
