package main

// pageTemplates are the shop's pages. The scripts post the login form as
// JSON to /auth/login (after trying a silent refresh), the logout button to
// /auth/logout, and "Add to cart" through shopFetch, which refreshes the
// access token silently when it has expired; a page rendered without a
// session tries a silent refresh too. Tokens stay in HttpOnly cookies, out
// of reach of any script.
const pageTemplates = `
{{define "top"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sesame shop</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto}nav{display:flex;gap:1em;align-items:center}
form.inline{display:inline}table{border-collapse:collapse}td,th{padding:.3em .8em;text-align:left}</style></head>
<body><script>
// shopFetch is fetch for the shop's own endpoints. A 401 means the access
// token expired (or the session ended): it asks POST /auth/refresh for a new
// one (the refresh cookie travels to /auth only) and retries once. Requests
// of this tab that meet a 401 together share one refresh; two tabs that
// refresh at once with the same refresh token get the same new pair from
// the server. If the session is over (refresh answers 401), it goes to the
// login page; any other refresh failure (503) leaves the 401 to the caller.
let refreshing = null;
function refreshSession() {
  return refreshing ??= fetch("/auth/refresh", {method: "POST"}).then(r => r.status, () => 0).finally(() => { refreshing = null });
}
async function shopFetch(url, opts) {
  let r = await fetch(url, opts);
  if (r.status !== 401) return r;
  const s = await refreshSession();
  if (s === 200) return fetch(url, opts);
  if (s === 401) location = "/login?next=" + encodeURIComponent(location.pathname);
  return r;
}
</script>
<nav><a href="/">Shop</a>
{{if .Session}}<a href="/cart">Cart</a> <span>Signed in as <b id="who">{{.Session.Data.Name}}</b></span>
<button id="logout" type="button">Log out</button>
<script>document.getElementById("logout").onclick=async()=>{await fetch("/auth/logout",{method:"POST"});location="/"}</script>
{{else}}<a href="/login">Log in</a>
<script>
// A page rendered without a session may only have met an expired access
// token while the refresh cookie lives on (a tab left open): refresh
// silently and reload. At most once in 30 s per tab, so that a refresh
// whose new token the server still refuses cannot loop.
if (location.pathname !== "/login" && !(Date.now() - sessionStorage.getItem("silentRefresh") < 30000)) {
  sessionStorage.setItem("silentRefresh", Date.now());
  refreshSession().then(s => { if (s === 200) location.reload() });
}
</script>{{end}}</nav><hr>{{end}}

{{define "bottom"}}</body></html>{{end}}

{{define "home"}}{{template "top" .}}
<h1>Sesame shop</h1>
<table>{{range .Catalog}}<tr><td>{{.Name}}</td><td>{{price .Cents}}</td>
<td><form class="inline add" method="post" action="/cart"><input type="hidden" name="sku" value="{{.SKU}}"><button>Add to cart</button></form></td></tr>{{end}}</table>
<script>
// Through shopFetch, so an expired access token is refreshed, not a dead end.
for (const f of document.querySelectorAll("form.add")) f.onsubmit = async (e) => {
  e.preventDefault();
  const r = await shopFetch("/cart", {method: "POST", body: new URLSearchParams(new FormData(f))});
  if (r.ok) location = "/cart";
};
</script>
{{template "bottom"}}{{end}}

{{define "login"}}{{template "top" .}}
<h1>Log in</h1>
<form id="login"><p><label>User <input name="username" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><label><input name="remember" type="checkbox"> Remember me</label></p>
<p><button>Log in</button> <span id="msg" role="alert"></span></p></form>
<script>
const next = {{.Next}};
// A live refresh cookie gets a new access token without a password.
refreshSession().then(s=>{if(s===200)location=next});
document.getElementById("login").onsubmit=async(e)=>{
  e.preventDefault();
  const f=e.target;
  const r=await fetch("/auth/login",{method:"POST",headers:{"Content-Type":"application/json"},
    body:JSON.stringify({username:f.username.value,password:f.password.value,remember:f.remember.checked})});
  if(r.ok){location=next;return}
  const b=await r.json().catch(()=>({}));
  document.getElementById("msg").textContent=b.error==="rate_limited"?"Too many attempts, wait a little.":"Wrong user name or password.";
};
</script>
{{template "bottom"}}{{end}}

{{define "cart"}}{{template "top" .}}
<h1>Your cart</h1>
{{if .Lines}}<table id="cart"><tr><th>Item</th><th>Qty</th><th>Price</th></tr>
{{range .Lines}}<tr><td data-sku="{{.SKU}}">{{.Name}}</td><td>{{.Qty}}</td><td>{{price (mul .Cents .Qty)}}</td></tr>{{end}}
<tr><th>Total</th><td></td><th>{{price .Total}}</th></tr></table>
<form method="post" action="/checkout"><button id="checkout">Check out</button></form>
{{else}}<p id="empty">Your cart is empty.</p>{{end}}
{{template "bottom"}}{{end}}

{{define "done"}}{{template "top" .}}
<h1 id="done">Order placed: {{.Items}} item(s)</h1><p><a href="/">Back to the shop</a></p>
{{template "bottom"}}{{end}}
`
