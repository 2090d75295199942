package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func newPagesAPI(t *testing.T) *API {
	t.Helper()
	api := NewAPI([]string{"test-token"}, zerolog.Nop())
	RegisterPages(api)
	return api
}

func getPage(t *testing.T, api *API, target string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	request := httptest.NewRequest(http.MethodGet, target, nil)
	request.Header.Set("Authorization", "Bearer test-token")
	for name, value := range headers {
		request.Header.Set(name, value)
	}
	recorder := httptest.NewRecorder()
	api.ServeHTTP(recorder, request)
	return recorder
}

func readUI(t *testing.T, name string) string {
	t.Helper()
	body, err := fs.ReadFile(uiFiles, uiRoot+"/"+name)
	if err != nil {
		t.Fatalf("reading embedded %s: %v", name, err)
	}
	return string(body)
}

func TestPagesServeHTML(t *testing.T) {
	api := newPagesAPI(t)
	for _, path := range []string{"/board", "/console", "/followups"} {
		t.Run(path, func(t *testing.T) {
			response := getPage(t, api, path, nil)
			if response.Code != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", path, response.Code)
			}
			if got := response.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q, want text/html; charset=utf-8", path, got)
			}
			if got := response.Header().Get("Cache-Control"); !strings.HasPrefix(got, "no-cache") {
				t.Errorf("GET %s: Cache-Control %q, want no-cache", path, got)
			}
			if got := response.Header().Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") {
				t.Errorf("GET %s: Content-Security-Policy %q, want default-src 'self'", path, got)
			}
			if !strings.Contains(response.Body.String(), `<html lang="ko">`) {
				t.Errorf("GET %s: body does not start in Korean (<html lang=\"ko\">)", path)
			}
		})
	}
}

func TestStaticAssetTypes(t *testing.T) {
	api := newPagesAPI(t)
	cases := map[string]string{
		"/static/app.css":      "text/css; charset=utf-8",
		"/static/app.js":       "text/javascript; charset=utf-8",
		"/static/board.js":     "text/javascript; charset=utf-8",
		"/static/console.js":   "text/javascript; charset=utf-8",
		"/static/followups.js": "text/javascript; charset=utf-8",
	}
	for path, want := range cases {
		response := getPage(t, api, path, nil)
		if response.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, response.Code)
			continue
		}
		if got := response.Header().Get("Content-Type"); got != want {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, want)
		}
		if response.Header().Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", path)
		}
		if got := response.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", path, got)
		}
	}
}

func TestStaticETagRevalidates(t *testing.T) {
	api := newPagesAPI(t)
	first := getPage(t, api, "/static/app.js", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("GET /static/app.js: no ETag")
	}

	again := getPage(t, api, "/static/app.js", map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified {
		t.Errorf("GET with If-None-Match %s: status %d, want 304", etag, again.Code)
	}
	if again.Body.Len() != 0 {
		t.Errorf("304 response has a %d-byte body", again.Body.Len())
	}
}

func TestStaticRejectsUnknownFiles(t *testing.T) {
	api := newPagesAPI(t)
	for _, path := range []string{"/static/missing.js", "/static/board.html", "/static/", "/static/../pages.go"} {
		response := getPage(t, api, path, nil)
		if response.Code == http.StatusOK {
			t.Errorf("GET %s: status 200, want an error", path)
		}
	}
}

func TestRootRedirectsAdminToBoard(t *testing.T) {
	api := newPagesAPI(t)
	response := getPage(t, api, "/", nil)
	if response.Code != http.StatusSeeOther {
		t.Fatalf("GET /: status %d, want 303", response.Code)
	}
	if got := response.Header().Get("Location"); got != "/board" {
		t.Errorf("GET /: Location %q, want /board", got)
	}
}

func TestPagesLeaveAPIProtected(t *testing.T) {
	api := newPagesAPI(t)
	response := getPage(t, api, "/api/v1/anything", map[string]string{"Authorization": ""})
	if response.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/anything without a token: status %d, want 401", response.Code)
	}
}

// TestPagesHaveDesignIDs checks the element ids and names that browser
// tests and the other parts of the web feature rely on.
func TestPagesHaveDesignIDs(t *testing.T) {
	cases := map[string][]string{
		"board.html": {
			`id="board"`, `id="alerts"`, `id="figures-today"`, `id="figures-hour"`, `id="chart"`, `id="conn-status"`,
		},
		"console.html": {
			`id="console"`, `id="state"`, `id="btn-login"`, `id="btn-break"`, `id="break-reason"`, `id="btn-logout"`,
			`id="btn-end-wrapup"`, `id="screen-pop"`, `id="history"`, `id="wrapup-form"`, `name="reporter"`,
			`name="isolation_score"`, `name="risk"`, `name="notes"`, `name="followup"`, `name="due_date"`,
			`name="district"`, `id="wrapup-submit"`, `id="wrapup-error"`, `id="btn-emergency"`, `id="conn-status"`,
			`id="emergency-unavailable"`, `id="pending"`, `id="pop-flags"`,
		},
		"followups.html": {
			`id="followups"`, `id="f-kind"`, `id="f-district"`, `id="f-risk"`, `id="export-csv"`, `id="conn-status"`,
		},
		// Rows are drawn by the scripts, so their classes and keys are
		// looked for there.
		"board.js": {
			`class: "queue hl-card", "data-queue"`, `"waiting-row"`, `"data-call-id"`, `class: "counselor-row", "data-counselor"`,
		},
		"followups.js": {`class: "followup-row", "data-id"`},
		"console.js":   {`class: "pending-row", "data-call-id"`, `"data-flag"`},
	}
	for file, wants := range cases {
		body := readUI(t, file)
		for _, want := range wants {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s", file, want)
			}
		}
	}
}

func TestPagesShareHeader(t *testing.T) {
	for _, page := range pageRoutes {
		body := readUI(t, page.File)
		for _, want := range []string{`class="hl-page"`, `class="hl-header"`, `class="hl-lang"`, `data-lang="ko"`, `data-lang="en"`, `href="/static/app.css"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s", page.File, want)
			}
		}
	}
}

// TestUIHasNoExternalURL keeps the pages usable offline: no file may load
// anything from another host.
func TestUIHasNoExternalURL(t *testing.T) {
	entries, err := fs.ReadDir(uiFiles, uiRoot)
	if err != nil {
		t.Fatalf("listing embedded files: %v", err)
	}
	if len(entries) == 0 {
		t.Fatal("no embedded files")
	}
	for _, entry := range entries {
		body := strings.ToLower(readUI(t, entry.Name()))
		for _, scheme := range []string{"http://", "https://", "//cdn", "url(//"} {
			if strings.Contains(body, scheme) {
				t.Errorf("%s contains %q: serve every asset from /static", entry.Name(), scheme)
			}
		}
	}
}

// TestPageReferencesExist checks that every /static/ file a page or module
// names is embedded.
func TestPageReferencesExist(t *testing.T) {
	api := newPagesAPI(t)
	reference := regexp.MustCompile(`"/static/([^"]+)"`)
	for _, name := range []string{"board.html", "console.html", "followups.html", "board.js", "console.js", "followups.js"} {
		for _, match := range reference.FindAllStringSubmatch(readUI(t, name), -1) {
			path := "/static/" + match[1]
			if response := getPage(t, api, path, nil); response.Code != http.StatusOK {
				t.Errorf("%s names %s, which answers %d", name, path, response.Code)
			}
		}
	}
}

// dictionaryKeyPattern matches a key at the start of a dictionary line.
var dictionaryKeyPattern = regexp.MustCompile(`(?m)^\s+"([a-z0-9_.]+)":`)

// dictionaryKeys returns the keys of the Korean and English dictionaries
// in text: the ko block runs from "ko: {" to "en: {", and the en block
// from there to end, the text that closes it.
func dictionaryKeys(t *testing.T, name, text, end string) (korean, english map[string]bool) {
	t.Helper()
	start := strings.Index(text, "  ko: {")
	middle := strings.Index(text, "  en: {")
	if start < 0 || middle < start {
		t.Fatalf("%s: dictionaries ko and en not found", name)
	}
	stop := strings.Index(text[middle:], end)
	if stop < 0 {
		t.Fatalf("%s: the en dictionary does not end with %q", name, end)
	}
	keys := func(block string) map[string]bool {
		set := map[string]bool{}
		for _, match := range dictionaryKeyPattern.FindAllStringSubmatch(block, -1) {
			set[match[1]] = true
		}
		return set
	}
	return keys(text[start:middle]), keys(text[middle : middle+stop])
}

// checkSameKeys reports keys that one language has and the other lacks.
func checkSameKeys(t *testing.T, name string, korean, english map[string]bool) {
	t.Helper()
	for key := range korean {
		if !english[key] {
			t.Errorf("%s: key %q has no English text", name, key)
		}
	}
	for key := range english {
		if !korean[key] {
			t.Errorf("%s: key %q has no Korean text", name, key)
		}
	}
}

// TestDictionariesMatch checks that the Korean and English dictionaries
// have the same keys and that every key the pages use exists, in app.js
// or in the addStrings call of the page's own script.
func TestDictionariesMatch(t *testing.T) {
	korean, english := dictionaryKeys(t, "app.js", readUI(t, "app.js"), "\n  },\n};")
	if len(korean) < 50 {
		t.Fatalf("app.js: only %d Korean keys found", len(korean))
	}
	checkSameKeys(t, "app.js", korean, english)

	used := regexp.MustCompile(`data-i18n(?:-placeholder|-aria|-title)?="([^"]+)"|\bt\("([a-z0-9_.]+)"`)
	pages := map[string][]string{"board": {"board.html", "board.js"}, "console": {"console.html", "console.js"},
		"followups": {"followups.html", "followups.js"}, "app": {"app.js"}}
	for page, files := range pages {
		known := korean
		if script := readUI(t, files[len(files)-1]); page != "app" && strings.Contains(script, "addStrings({") {
			own := script[strings.Index(script, "addStrings({"):]
			ownKorean, ownEnglish := dictionaryKeys(t, files[len(files)-1], own, "\n  },\n});")
			checkSameKeys(t, files[len(files)-1], ownKorean, ownEnglish)
			known = map[string]bool{}
			for key := range korean {
				known[key] = true
			}
			for key := range ownKorean {
				known[key] = true
			}
		}
		for _, name := range files {
			for _, match := range used.FindAllStringSubmatch(readUI(t, name), -1) {
				key := match[1] + match[2]
				if !known[key] {
					t.Errorf("%s uses key %q, which the dictionaries lack", name, key)
				}
			}
		}
	}
}

// TestKoreanWording checks the Korean dictionary against wording that
// reads wrongly at a call centre: police words for the caller, particles
// written for both endings, and one word for two meanings.
func TestKoreanWording(t *testing.T) {
	app := readUI(t, "app.js")
	korean := app[strings.Index(app, "  ko: {"):strings.Index(app, "  en: {")]
	for _, word := range []string{"신고자", "발신자", "을(를)", "이(가)", "은(는)"} {
		if strings.Contains(korean, word) {
			t.Errorf("the Korean dictionary contains %q: name the caller 전화하신 분 and write one particle", word)
		}
	}

	texts := map[string]string{}
	for _, match := range regexp.MustCompile(`(?m)^\s+"([a-z0-9_.]+)": "([^"]*)",`).FindAllStringSubmatch(korean, -1) {
		texts[match[1]] = match[2]
	}
	distinct := [][2]string{
		{"state.logged_out", "nav.signout"},
		{"state.logged_out", "console.logout"},
		{"state.available", "outcome.abandoned_in_queue"},
		{"ask.cancel_callback_ok", "dialog.close"},
	}
	for _, pair := range distinct {
		if texts[pair[0]] == "" || texts[pair[0]] == texts[pair[1]] {
			t.Errorf("%s reads %q and %s %q, want two different texts", pair[0], texts[pair[0]], pair[1], texts[pair[1]])
		}
	}
	if strings.Contains(texts["state.available"], "대기") {
		t.Errorf("state.available reads %q: 대기 is the waiting caller's word", texts["state.available"])
	}
	if texts["followup.home_visit"] != "가정 방문" {
		t.Errorf("followup.home_visit reads %q, want 가정 방문", texts["followup.home_visit"])
	}
}
