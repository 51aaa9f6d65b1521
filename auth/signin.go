package auth

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
)

// The sign-in page: one HTML document with its stylesheet and script
// inline, no external assets, and a Content-Security-Policy that allows
// exactly these two blocks by their SHA-256 hashes (computed here, from the
// embedded files, so an edit cannot forget to update the policy). Nothing
// else runs or loads: not an injected script, not a stylesheet, image, font
// or frame from anywhere; the page's fetches go to this origin only, and no
// site may frame it (clickjacking a password form).
//
//go:embed signin/page.html signin/page.css signin/page.js
var signinFiles embed.FS

type signinAssets struct {
	page   *template.Template
	style  template.CSS
	script template.JS
	csp    string
}

var signin = func() signinAssets {
	read := func(name string) string {
		b, err := signinFiles.ReadFile("signin/" + name)
		if err != nil {
			panic("auth: internal error: " + err.Error())
		}
		return string(b)
	}
	css, js := read("page.css"), read("page.js")
	hash := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
	}
	return signinAssets{
		page:   template.Must(template.New("page").Parse(read("page.html"))),
		style:  template.CSS(css),
		script: template.JS(js),
		csp: "default-src 'none'; script-src " + hash(js) + "; style-src " + hash(css) +
			"; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	}
}()

type signinPage struct {
	Style    template.CSS
	Script   template.JS
	Base     string // where Routes is mounted: "/auth"
	RD       string // where to go after signing in, already checked
	Explicit string // "1" when the caller asked for a place to return to
	Refresh  string // "1" when a refresh cookie came with the request
}

// SignInPage returns the handler of the browser sign-in page, which
// [Manager.Routes] serves for GET /login when the request accepts
// text/html (the JSON POST /login is unchanged). The page first tries a
// silent POST /refresh when the request carries a refresh cookie, then
// shows the form; after signing in it sends the browser to its rd query
// parameter, when that is a path on this host or an URL on a host of
// Config.Gateway.AllowedRedirectHosts, and to "/" otherwise. A signed-in
// visitor without rd sees a sign-out button (POST /logout).
//
// The page expects Routes mounted at Config.RefreshCookiePath. It needs
// JavaScript (the login is the JSON endpoint, so cookies are set as for
// any client).
func (m *Manager[T]) SignInPage() http.Handler { return http.HandlerFunc(m.signInPage) }

func (m *Manager[T]) signInPage(w http.ResponseWriter, r *http.Request) {
	if !acceptsHTML(r) {
		m.fail(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeBadRequest, Message: "method not allowed"})
		return
	}
	q := r.URL.Query()
	rd := "/"
	if v := q["rd"]; len(v) == 1 {
		rd = safeRedirect(v[0], m.cfg.Gateway.AllowedRedirectHosts)
	}
	p := signinPage{Style: signin.style, Script: signin.script, Base: m.cfg.RefreshCookiePath, RD: rd}
	if len(q["rd"]) > 0 {
		p.Explicit = "1"
	}
	if _, e := singleCookie(r, m.cfg.RefreshCookieName); e == nil {
		p.Refresh = "1"
	}
	var buf bytes.Buffer
	if err := signin.page.Execute(&buf, p); err != nil {
		m.WriteError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", signin.csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// acceptsHTML reports whether r asks for a page: a browser's navigation
// sends Accept: text/html, a script's fetch or curl does not.
func acceptsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "text/html") {
			return true
		}
	}
	return false
}
