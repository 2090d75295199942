package web

import (
	"html/template"
	"net/http"
	"strings"
)

// forbiddenTemplate is the page a logged-in user gets for a page that
// the role may not open.
var forbiddenTemplate = template.Must(template.ParseFS(uiFiles, uiRoot+"/forbidden.html"))

// roleNamesKO are the Korean names of the roles, as the pages show them.
var roleNamesKO = map[Role]string{
	RoleCounselor:  "상담사",
	RoleSupervisor: "감독자",
	RoleFollowUp:   "후속 조치 담당",
	RoleAdmin:      "관리자",
}

// forbiddenPage is the data of ui/forbidden.html.
type forbiddenPage struct {
	User, Role, RoleKO string
	Path               string
	Allowed, AllowedKO string
	// Home is the page of the user's role.
	Home string
	// CSRF is the session's token for the logout form, empty for the
	// bearer token.
	CSRF string
}

// rejectPage responds 403 with a small Korean-first HTML page that names
// the roles the page is open to and links to the user's own page and to
// logout.
func (a *API) rejectPage(w http.ResponseWriter, r *http.Request, p Principal, roles []Role) {
	page := forbiddenPage{
		User: p.User, Role: string(p.Role), RoleKO: roleNamesKO[p.Role],
		Path:    r.URL.Path,
		Allowed: allowedRoles(roles), AllowedKO: allowedRolesKO(roles),
		Home: RoleHome(p.Role),
	}
	if state := authFrom(r.Context()); state != nil && state.session != nil {
		page.CSRF = state.session.CSRF
	}

	header := w.Header()
	for name, value := range securityHeaders {
		header.Set(name, value)
	}
	header.Set("Content-Type", "text/html; charset=utf-8")
	header.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	if err := forbiddenTemplate.Execute(w, page); err != nil {
		a.log.Error().Err(err).Msg("rendering the forbidden page failed")
	}
}

// allowedRolesKO names the roles of a route in Korean, admin last.
func allowedRolesKO(roles []Role) string {
	names := make([]string, 0, len(roles)+1)
	for _, role := range roles {
		if role != RoleAdmin {
			names = append(names, roleNamesKO[role])
		}
	}
	return strings.Join(append(names, roleNamesKO[RoleAdmin]), ", ")
}
