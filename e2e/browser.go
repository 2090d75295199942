package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Browser limits and defaults.
const (
	// DefaultBrowserTimeout bounds each browser step (a navigation, a wait
	// for an element, a click).
	DefaultBrowserTimeout = 20 * time.Second
	defaultBrowserWidth   = 1280
	defaultBrowserHeight  = 800
	browserStartTimeout   = 30 * time.Second
	// ArtifactsEnv names the folder for screenshots; unset, they go to
	// e2e/artifacts in the checkout.
	ArtifactsEnv = "HELPLINE_ARTIFACTS"
	// chromiumCommand is the browser that Debian's chromium package
	// installs; scripts/test.sh installs it.
	chromiumCommand = "chromium"
	// screenshotPNG is the quality value that makes chromedp write PNG.
	screenshotPNG = 100
	// pollInterval is how often WaitTrue evaluates its expression.
	pollInterval = 50 * time.Millisecond
)

// BrowserOptions adjusts a browser started by StartBrowser.
type BrowserOptions struct {
	// Width and Height are the viewport in CSS pixels. Zero: 1280×800.
	Width, Height int
	// Timeout bounds each step. Zero: DefaultBrowserTimeout.
	Timeout time.Duration
}

// Browser is a headless Chromium driven over the DevTools protocol. Each
// method fails the test when its step fails or times out.
type Browser struct {
	t       testing.TB
	ctx     context.Context
	timeout time.Duration
	// leavePrompts counts the "leave site?" prompts (beforeunload) that
	// the browser accepted.
	leavePrompts *atomic.Int64
}

// StartBrowser starts headless Chromium with its own profile folder and
// stops it when the test ends. The browser resolves no host but localhost
// and 127.0.0.1 and makes no background requests, so it reaches only
// loopback.
// A missing chromium skips the test, or fails it in strict mode (see
// Strict).
func StartBrowser(t testing.TB, opts BrowserOptions) *Browser {
	t.Helper()

	exe := RequireTool(t, chromiumCommand)
	width, height := opts.Width, opts.Height
	if width == 0 || height == 0 {
		width, height = defaultBrowserWidth, defaultBrowserHeight
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultBrowserTimeout
	}

	allocatorOptions := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		// Every host but localhost and 127.0.0.1 fails to resolve, so no
		// request of the page or the browser can leave loopback.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.Flag("lang", "ko-KR"),
	}
	allocatorCtx, cancelAllocator := chromedp.NewExecAllocator(context.Background(), allocatorOptions...)
	ctx, cancelBrowser := chromedp.NewContext(allocatorCtx)
	t.Cleanup(func() {
		// Cancelling the browser context closes the browser, and the
		// allocator's cancel waits for its process to exit.
		cancelBrowser()
		cancelAllocator()
	})

	// The first action starts the browser, which then lives as long as
	// the context of that action, so the start limit is a timer that
	// cancels the browser instead of a context deadline.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, emulateViewport(width, height)) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", exe, err)
		}
	case <-time.After(browserStartTimeout):
		cancelBrowser()
		t.Fatalf("starting %s: %v after %s", exe, ErrWaitTimeout, browserStartTimeout)
	}
	b := &Browser{t: t, ctx: ctx, timeout: timeout, leavePrompts: &atomic.Int64{}}
	if err := acceptLeavePrompts(ctx, b.leavePrompts); err != nil {
		t.Fatalf("listening to the page's events: %v", err)
	}
	return b
}

// acceptLeavePrompts answers "leave" to every beforeunload prompt of the
// page, as a user who confirms a reload does, and counts them in
// prompts. A page that asks before unloading would otherwise block
// Navigate until its step times out.
func acceptLeavePrompts(ctx context.Context, prompts *atomic.Int64) error {
	return chromedp.Listen(ctx, func(event any) {
		opening, ok := event.(*page.EventJavascriptDialogOpening)
		if !ok || opening.Type != page.DialogTypeBeforeunload {
			return
		}
		prompts.Add(1)
		// The listener must not run a command, so the answer goes from its
		// own goroutine, which ends with the command or the browser.
		go func() {
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}()
	})
}

// LeavePrompts returns how many beforeunload prompts the browser accepted.
func (b *Browser) LeavePrompts() int {
	return int(b.leavePrompts.Load())
}

func emulateViewport(width, height int) chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(int64(width), int64(height), chromedp.EmulateScale(1))
}

// For returns the browser bound to t, for use in a subtest: its steps
// then fail t instead of the test that started the browser.
func (b *Browser) For(t testing.TB) *Browser {
	bound := *b
	bound.t = t
	return &bound
}

// run runs actions under the step timeout and fails the test with what
// the step was doing.
func (b *Browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()

	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", step, err)
	}
}

// evaluate runs one action that returns a value, under the step timeout.
func evaluate[T any](b *Browser, step string, action chromedp.Action[T]) T {
	b.t.Helper()

	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	value, err := chromedp.Run(ctx, action)
	if err != nil {
		b.t.Fatalf("browser: %s: %v", step, err)
	}
	return value
}

// SetViewport resizes the viewport to width×height CSS pixels.
func (b *Browser) SetViewport(width, height int) {
	b.t.Helper()
	b.run(fmt.Sprintf("setting the viewport to %dx%d", width, height), emulateViewport(width, height))
}

// Navigate opens url and waits for the page's load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.run("opening "+url, chromedp.Navigate(url))
}

// WaitVisible waits until the first element matching the CSS selector is
// shown.
func (b *Browser) WaitVisible(selector string) {
	b.t.Helper()
	b.run("waiting for "+selector+" to show", chromedp.WaitVisible(chromedp.CSS(selector)))
}

// WaitNotVisible waits until the first element matching selector is
// hidden or removed.
func (b *Browser) WaitNotVisible(selector string) {
	b.t.Helper()
	b.run("waiting for "+selector+" to hide", chromedp.WaitNotVisible(chromedp.CSS(selector)))
}

// Click clicks the first element matching selector once it is visible.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	b.run("clicking "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// SetValue sets the value of the first input, select or textarea matching
// selector and fires its input and change events, as typing would.
func (b *Browser) SetValue(selector, value string) {
	b.t.Helper()

	script := fmt.Sprintf(`(() => {
		const node = document.querySelector(%q);
		if (!node) return false;
		node.value = %q;
		node.dispatchEvent(new Event("input", { bubbles: true }));
		node.dispatchEvent(new Event("change", { bubbles: true }));
		return true;
	})()`, selector, value)
	b.run("waiting for "+selector, chromedp.WaitReady(chromedp.CSS(selector)))
	if !evaluate(b, "setting the value of "+selector, chromedp.Evaluate[bool](script)) {
		b.t.Fatalf("browser: setting the value of %s: element not found", selector)
	}
}

// Text returns the visible text of the first element matching selector.
func (b *Browser) Text(selector string) string {
	b.t.Helper()

	b.run("waiting for "+selector, chromedp.WaitReady(chromedp.CSS(selector)))
	return evaluate(b, "reading the text of "+selector,
		chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).innerText`, selector)))
}

// Eval evaluates the JavaScript expression and decodes its JSON value
// into T.
func Eval[T any](b *Browser, expression string) T {
	b.t.Helper()
	return evaluate(b, "evaluating "+firstLine(expression), chromedp.Evaluate[T](expression))
}

// WaitTrue polls the JavaScript expression until it is true, within the
// step timeout.
func (b *Browser) WaitTrue(expression string) {
	b.t.Helper()
	evaluate(b, "waiting for "+firstLine(expression), chromedp.Poll[chromedp.Void](expression,
		chromedp.WithPollingInterval(pollInterval), chromedp.WithPollingTimeout(b.timeout)))
}

// Count returns how many elements match selector.
func (b *Browser) Count(selector string) int {
	b.t.Helper()

	return Eval[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, selector))
}

// Screenshot saves a PNG of the whole page as name.png in ArtifactsDir
// and returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()

	png := evaluate(b, "taking screenshot "+name, chromedp.FullScreenshot(screenshotPNG))

	path := filepath.Join(ArtifactsDir(b.t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("writing screenshot %s: %v", path, err)
	}
	return path
}

// HorizontalOverflow reports whether the page is wider than the viewport,
// which shows as a horizontal scroll bar.
func (b *Browser) HorizontalOverflow() bool {
	b.t.Helper()

	return Eval[bool](b, `document.documentElement.scrollWidth > document.documentElement.clientWidth`)
}

// overflowScript lists visible elements whose own text is wider or taller
// than their box, or that reach past the right edge of the viewport. Form
// controls are skipped, because their text scrolls inside them by design.
const overflowScript = `(() => {
	const found = [];
	const skip = new Set(["INPUT", "SELECT", "TEXTAREA", "OPTION", "SCRIPT", "STYLE", "HTML", "BODY"]);
	const tolerance = 1;
	for (const node of document.querySelectorAll("body *")) {
		if (skip.has(node.tagName) || node.closest("svg, dialog:not([open])")) continue;
		const style = getComputedStyle(node);
		if (style.display === "none" || style.visibility === "hidden" || style.display === "inline") continue;
		const box = node.getBoundingClientRect();
		if (box.width === 0 || box.height === 0) continue;
		const ownText = [...node.childNodes].some((child) => child.nodeType === 3 && child.textContent.trim() !== "");
		const describe = () => node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") +
			(node.className && typeof node.className === "string" ? "." + node.className.trim().split(/\s+/).join(".") : "") +
			" " + JSON.stringify((node.innerText || "").trim().slice(0, 40));
		if (box.right > document.documentElement.clientWidth + tolerance) {
			found.push(describe() + " reaches past the viewport");
			continue;
		}
		if (!ownText || node.classList.contains("visually-hidden")) continue;
		if (node.scrollWidth > node.clientWidth + tolerance && style.overflowX !== "visible") {
			found.push(describe() + " clips its text horizontally");
		} else if (node.scrollWidth > node.clientWidth + tolerance) {
			found.push(describe() + " text is wider than its box");
		}
	}
	return found;
})()`

// OverflowingElements returns a description of every visible element
// whose text overflows its box or that reaches past the viewport.
func (b *Browser) OverflowingElements() []string {
	b.t.Helper()

	return Eval[[]string](b, overflowScript)
}

// CheckLayout fails the test when the page scrolls horizontally or an
// element's text overflows its box; page names the page in the messages.
func (b *Browser) CheckLayout(page string) {
	b.t.Helper()

	if b.HorizontalOverflow() {
		widths := Eval[[]int](b, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)
		b.t.Errorf("%s: the page scrolls horizontally (scrollWidth %v > clientWidth)", page, widths)
	}
	for _, problem := range b.OverflowingElements() {
		b.t.Errorf("%s: %s", page, problem)
	}
}

// ArtifactsDir returns the folder for screenshots, creating it:
// $HELPLINE_ARTIFACTS, or e2e/artifacts in the checkout (ignored by git).
func ArtifactsDir(t testing.TB) string {
	t.Helper()

	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "e2e", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating the artifacts folder %s: %v", dir, err)
	}
	return dir
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
