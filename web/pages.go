package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// uiFiles holds the pages and their assets: plain HTML, CSS and JavaScript
// modules, served as they are with no build step.
//
//go:embed ui
var uiFiles embed.FS

// uiRoot is the folder of uiFiles that holds the files.
const uiRoot = "ui"

// pageRoutes maps each page path to its HTML file in uiRoot.
var pageRoutes = []struct {
	Path  string
	File  string
	Roles []Role
}{
	{Path: "/board", File: "board.html", Roles: []Role{RoleSupervisor}},
	{Path: "/console", File: "console.html", Roles: []Role{RoleCounselor, RoleSupervisor}},
	{Path: "/followups", File: "followups.html", Roles: []Role{RoleSupervisor, RoleFollowUp}},
}

// assetTypes lists the file types that /static/ serves, with their
// Content-Type. HTML files are served only under their page path.
var assetTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
	".ico": "image/x-icon",
}

// Response headers of every page and asset. The pages load only their own
// scripts, styles and API, and may not be framed by another site.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
}

// uiAsset is one embedded file ready to serve.
type uiAsset struct {
	name        string
	body        []byte
	etag        string
	contentType string
}

// RegisterPages adds the web pages and their assets to api:
//
//	GET /             303 to the home page of the user's role
//	GET /board        supervisor board [supervisor]
//	GET /console      counselor console [counselor, supervisor]
//	GET /followups    follow-up list [supervisor, followup]
//	GET /static/NAME  CSS, JavaScript and images of the pages
//
// Every response has an ETag and Cache-Control: no-cache, so a browser
// revalidates each file and gets 304 while it is unchanged. The pages
// fetch their data from the JSON API with the session cookie.
func RegisterPages(api *API) {
	assets, err := loadAssets(uiFiles)
	if err != nil {
		api.log.Error().Err(err).Msg("loading the embedded web pages failed: the pages respond 404, rebuild the binary")
	}

	// A page without a session redirects to /login. Admins may open every
	// page.
	for _, page := range pageRoutes {
		asset, ok := assets[page.File]
		if !ok {
			continue
		}
		api.HandlePage("GET "+page.Path, page.Roles, func(w http.ResponseWriter, r *http.Request) {
			serveAsset(w, r, asset)
		})
	}

	api.HandlePublic("GET /static/{name}", func(w http.ResponseWriter, r *http.Request) {
		// API.ServeHTTP calls public handlers without the mux's
		// ServeHTTP, so r.PathValue is empty here: read the name from
		// the path. The pattern admits one path segment only.
		asset, ok := assets[strings.TrimPrefix(r.URL.Path, "/static/")]
		if !ok || assetTypes[path.Ext(asset.name)] == "" {
			http.NotFound(w, r)
			return
		}
		serveAsset(w, r, asset)
	})

	api.HandlePage("GET /{$}", AllRoles, func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		http.Redirect(w, r, RoleHome(p.Role), http.StatusSeeOther)
	})
}

// loadAssets reads every file of the ui folder and computes its ETag and
// Content-Type.
func loadAssets(files fs.FS) (map[string]uiAsset, error) {
	root, err := fs.Sub(files, uiRoot)
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(root, ".")
	if err != nil {
		return nil, err
	}

	assets := make(map[string]uiAsset, len(entries))
	for _, entry := range entries {
		if entry.IsDir() {
			continue
		}
		body, err := fs.ReadFile(root, entry.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		assets[entry.Name()] = uiAsset{
			name:        entry.Name(),
			body:        body,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
			contentType: contentTypeOf(entry.Name()),
		}
	}
	return assets, nil
}

func contentTypeOf(name string) string {
	ext := path.Ext(name)
	if ext == ".html" {
		return "text/html; charset=utf-8"
	}
	if t, ok := assetTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// serveAsset writes asset with its validators. http.ServeContent responds
// to If-None-Match with 304 and to HEAD without a body.
func serveAsset(w http.ResponseWriter, r *http.Request, asset uiAsset) {
	header := w.Header()
	for name, value := range securityHeaders {
		header.Set(name, value)
	}
	header.Set("Content-Type", asset.contentType)
	header.Set("Cache-Control", "no-cache")
	header.Set("ETag", asset.etag)

	if strings.HasSuffix(asset.name, ".html") {
		// Pages show live data; a shared cache must not keep them.
		header.Set("Cache-Control", "no-cache, private")
	}
	http.ServeContent(w, r, asset.name, time.Time{}, bytes.NewReader(asset.body))
}
