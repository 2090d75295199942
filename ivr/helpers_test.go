package ivr_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"go.yaml.in/yaml/v3"

	"helpline/ivr"
)

// eventTimeout bounds every wait for the runner. It is generous so that a
// slow machine under -race does not fail the tests.
const eventTimeout = 10 * time.Second

// shippedConfig is the configuration whose ivr section is the contract for
// node shapes and prompt names.
var shippedConfig = filepath.Join("..", "config", "helpline.example.yaml")

// errTestEnded cancels runs that are still going when a test ends.
var errTestEnded = errors.New("test ended")

// loadShippedMenu decodes the ivr section of the shipped configuration the
// way the config package does: YAML into maps, then mapstructure tags with
// Go duration strings. Unknown keys fail the decoding.
func loadShippedMenu(t testing.TB) *ivr.Graph {
	t.Helper()

	data, err := os.ReadFile(shippedConfig)
	if err != nil {
		t.Fatalf("reading %s: %v", shippedConfig, err)
	}
	var document struct {
		IVR map[string]any `yaml:"ivr"`
	}
	if err := yaml.Unmarshal(data, &document); err != nil {
		t.Fatalf("parsing %s: %v", shippedConfig, err)
	}

	var graph ivr.Graph
	decoder, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:  mapstructure.StringToTimeDurationHookFunc(),
		ErrorUnused: true,
		Result:      &graph,
	})
	if err != nil {
		t.Fatalf("creating decoder: %v", err)
	}
	if err := decoder.Decode(document.IVR); err != nil {
		t.Fatalf("decoding the ivr section of %s: %v", shippedConfig, err)
	}
	return &graph
}

// setFirstDigitTimeout changes the first-digit timeout of every collecting
// node, so that silence tests do not wait the shipped 5 s.
func setFirstDigitTimeout(g *ivr.Graph, timeout time.Duration) {
	for _, node := range g.Nodes {
		if node.Collect != nil {
			node.Collect.FirstDigitTimeout = timeout
		}
	}
}

// playCall is one Media.Play call that the test ends or watches being
// stopped.
type playCall struct {
	prompt   string
	language string
	ctx      context.Context
	finish   chan error
}

// fakeMedia hands each Play call to the test and lets it press keys.
type fakeMedia struct {
	digits chan rune
	plays  chan *playCall
}

func newFakeMedia() *fakeMedia {
	const digitBuffer = 64
	return &fakeMedia{digits: make(chan rune, digitBuffer), plays: make(chan *playCall)}
}

func (f *fakeMedia) Digits() <-chan rune { return f.digits }

func (f *fakeMedia) Play(ctx context.Context, prompt, language string) error {
	call := &playCall{prompt: prompt, language: language, ctx: ctx, finish: make(chan error, 1)}
	select {
	case f.plays <- call:
	case <-ctx.Done():
		return ctx.Err()
	}

	select {
	case err := <-call.finish:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeMedia) press(keys string) {
	for _, key := range keys {
		f.digits <- key
	}
}

// expectPlay waits for the next prompt and checks its name and language.
func (f *fakeMedia) expectPlay(t *testing.T, prompt, language string) *playCall {
	t.Helper()

	select {
	case call := <-f.plays:
		if call.prompt != prompt || call.language != language {
			t.Fatalf("played prompt %q in %q, expected %q in %q", call.prompt, call.language, prompt, language)
		}
		return call
	case <-time.After(eventTimeout):
		t.Fatalf("timed out waiting for prompt %q in %q", prompt, language)
		return nil
	}
}

// expectStopped waits until the runner stops the prompt.
func (c *playCall) expectStopped(t *testing.T) {
	t.Helper()

	select {
	case <-c.ctx.Done():
	case <-time.After(eventTimeout):
		t.Fatalf("prompt %q was not stopped", c.prompt)
	}
}

// run is a Run going on in the background.
type run struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	result ivr.Result
	err    error
}

// startRun starts r.Run on m in the background. The run is cancelled and
// awaited when the test ends.
func startRun(t *testing.T, r *ivr.Runner, m ivr.Media) *run {
	t.Helper()

	ctx, cancel := context.WithCancelCause(context.Background())
	running := &run{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(running.done)
		running.result, running.err = r.Run(ctx, m)
	}()

	t.Cleanup(func() {
		cancel(errTestEnded)
		select {
		case <-running.done:
		case <-time.After(eventTimeout):
			t.Error("ivr run did not stop after its context ended")
		}
	})
	return running
}

// wait returns the outcome of the run.
func (r *run) wait(t *testing.T) (ivr.Result, error) {
	t.Helper()

	select {
	case <-r.done:
		return r.result, r.err
	case <-time.After(eventTimeout):
		t.Fatal("timed out waiting for the ivr run to end")
		return ivr.Result{}, nil
	}
}

func newRunner(t testing.TB, g *ivr.Graph, opts ...ivr.Option) *ivr.Runner {
	t.Helper()

	r, err := ivr.NewRunner(g, opts...)
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	return r
}
