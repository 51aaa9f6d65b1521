package main

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sesame-go/sesame/auth"
	"github.com/sesame-go/sesame/users"
)

// Session is the shop's session data: sealed in the access token, and kept
// with the refresh family so that a refresh keeps the cart.
type Session struct {
	Name string `json:"name"`
	Cart []Line `json:"cart,omitempty"`
}

// Line is one cart line.
type Line struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Product is an item of the catalog.
type Product struct {
	SKU   string
	Name  string
	Cents int
}

var catalog = []Product{
	{"mug", "Sesame mug", 1200},
	{"tee", "Open-sesame T-shirt", 2500},
	{"seeds", "Bag of sesame seeds", 400},
}

func product(sku string) (Product, bool) {
	i := slices.IndexFunc(catalog, func(p Product) bool { return p.SKU == sku })
	if i < 0 {
		return Product{}, false
	}
	return catalog[i], true
}

// shopOptions configure the shop.
type shopOptions struct {
	users    []users.User // who may log in
	insecure bool         // cookies without Secure, for plain-HTTP localhost
	log      *slog.Logger
	// accessTTL and leeway are auth.Config's AccessTTL and Leeway (zero:
	// the defaults, 10 minutes and 30 s). A browser test sets a TTL of
	// seconds and no leeway to watch tokens expire and the page refresh.
	accessTTL, leeway time.Duration
}

// shop is the application: an auth.Manager and the pages around it.
type shop struct {
	m *auth.Manager[Session]
}

// newShop wires sesame for one process (auth.NewLocal: keys, sessions and
// revocations in memory, so sessions end when the process does) and
// returns the shop's handler and the Manager's Close.
func newShop(o shopOptions) (http.Handler, func() error, error) {
	// The users package's authenticator answers users.Profile; the shop
	// starts each session with the user's name and an empty cart.
	people, err := users.Static(o.users, &users.Options{Logger: o.log})
	if err != nil {
		return nil, nil, err
	}
	authn := auth.AuthenticatorFunc[Session](func(ctx context.Context, name, pw string) (string, Session, error) {
		uid, p, err := people.Authenticate(ctx, name, pw)
		return uid, Session{Name: p.Name}, err
	})

	s := &shop{}
	s.m, err = auth.NewLocal(authn, &auth.Config[Session]{
		Insecure:     o.insecure,
		AccessTTL:    o.accessTTL,
		Leeway:       o.leeway,
		Logger:       o.log,
		ErrorHandler: pageErrors,
		OnEvent: func(ctx context.Context, e auth.Event) {
			o.log.InfoContext(ctx, "security event", "event", string(e.Kind), "user_id", e.UserID, "sid", e.SessionID, "reason", e.Reason)
		},
	})
	if err != nil {
		return nil, nil, err
	}

	r := chi.NewRouter()
	r.Mount("/auth", s.m.Routes())
	r.Get("/login", s.loginPage)
	r.With(s.m.Optional()).Get("/", s.home)
	r.Group(func(r chi.Router) {
		r.Use(s.m.Require())
		r.Get("/cart", s.cart)
		r.Post("/cart", s.addToCart)
	})
	// Checkout spends money: Strict asks the store itself whether the
	// session was revoked, instead of trusting the replica's last second.
	r.With(s.m.Strict()).Post("/checkout", s.checkout)
	return r, s.m.Close, nil
}

// pageErrors sends a browser that asks for a page without a valid session
// to the login page (which first tries a silent refresh); everything else
// gets sesame's own error answer (auth.JSONError: the JSON body and its
// headers).
func pageErrors(w http.ResponseWriter, r *http.Request, e *auth.Error) {
	if e.Status == http.StatusUnauthorized && r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
		return
	}
	auth.JSONError(w, r, e)
}

func (s *shop) home(w http.ResponseWriter, r *http.Request) {
	sess, _ := auth.FromContext[Session](r.Context())
	render(w, "home", map[string]any{"Session": sess, "Catalog": catalog})
}

func (s *shop) loginPage(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/" // only local paths: no open redirect
	}
	render(w, "login", map[string]any{"Next": next})
}

type cartView struct {
	Product
	Qty int
}

func (s *shop) cart(w http.ResponseWriter, r *http.Request) {
	sess, _ := auth.FromContext[Session](r.Context())
	var lines []cartView
	total := 0
	for _, l := range sess.Data.Cart {
		if p, ok := product(l.SKU); ok {
			lines = append(lines, cartView{p, l.Qty})
			total += p.Cents * l.Qty
		}
	}
	render(w, "cart", map[string]any{"Session": sess, "Lines": lines, "Total": total})
}

// addToCart puts one item in the cart. m.Update re-mints the access token
// (new cookie) and stores the cart with the refresh family.
func (s *shop) addToCart(w http.ResponseWriter, r *http.Request) {
	sess, _ := auth.FromContext[Session](r.Context())
	p, ok := product(r.PostFormValue("sku"))
	if !ok {
		http.Error(w, "no such product", http.StatusBadRequest)
		return
	}
	data := sess.Data
	data.Cart = slices.Clone(data.Cart) // the session is shared: never modify it in place
	if i := slices.IndexFunc(data.Cart, func(l Line) bool { return l.SKU == p.SKU }); i >= 0 {
		data.Cart[i].Qty = min(data.Cart[i].Qty+1, 99)
	} else if len(data.Cart) < 20 {
		data.Cart = append(data.Cart, Line{p.SKU, 1})
	}
	if _, err := s.m.Update(w, r, data); err != nil {
		http.Error(w, "cannot update the cart, retry", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	sess, _ := auth.FromContext[Session](r.Context())
	if len(sess.Data.Cart) == 0 {
		http.Error(w, "your cart is empty", http.StatusBadRequest)
		return
	}
	items := 0
	for _, l := range sess.Data.Cart {
		items += l.Qty
	}
	// A real shop charges the card here, then empties the cart.
	data := sess.Data
	data.Cart = nil
	if _, err := s.m.Update(w, r, data); err != nil {
		http.Error(w, "cannot update the cart, retry", http.StatusServiceUnavailable)
		return
	}
	render(w, "done", map[string]any{"Session": sess, "Items": items})
}

func render(w http.ResponseWriter, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // pages show session data
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		slog.Error("rendering page", "page", name, "err", err)
	}
}

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"price": func(cents int) string { return fmt.Sprintf("€%d.%02d", cents/100, cents%100) },
	"mul":   func(a, b int) int { return a * b },
}).Parse(pageTemplates))
