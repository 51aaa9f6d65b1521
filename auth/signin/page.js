(function () {
  "use strict";
  var body = document.body;
  var base = body.getAttribute("data-base");
  var rd = body.getAttribute("data-rd") || "/";
  var $ = function (id) { return document.getElementById(id); };
  var signin = $("signin"), signout = $("signout"), checking = $("checking"), lead = $("lead");
  var error = $("error"), submit = $("submit"), user = $("username"), pass = $("password"), title = $("title");

  function post(path, data) {
    var init = { method: "POST", credentials: "same-origin", cache: "no-store", headers: {} };
    if (data) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(data);
    }
    return fetch(base + path, init);
  }
  function back() { window.location.replace(rd); }
  function showForm(message) {
    checking.hidden = true;
    signout.hidden = true;
    title.textContent = "Sign in";
    lead.hidden = false;
    if (message) { lead.textContent = message; }
    signin.hidden = false;
    user.focus();
  }
  function showSignedIn() {
    checking.hidden = true;
    lead.hidden = true;
    signin.hidden = true;
    title.textContent = "Signed in";
    signout.hidden = false;
    $("continue").focus();
  }
  function fail(message, field) {
    error.textContent = message;
    error.hidden = false;
    user.setAttribute("aria-invalid", field === user ? "true" : "false");
    pass.setAttribute("aria-invalid", field === pass || field === true ? "true" : "false");
    submit.disabled = false;
    submit.textContent = "Sign in";
    (field === user ? user : pass).focus();
  }

  // A session whose access token has lapsed is renewed without a form.
  if (body.getAttribute("data-refresh") === "1") {
    post("/refresh").then(function (r) {
      if (!r.ok) { showForm(); return; }
      if (body.getAttribute("data-explicit") === "1") { back(); return; }
      showSignedIn();
    }, function () { showForm(); });
  } else {
    showForm();
  }

  signin.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!user.value) { fail("Enter your username.", user); return; }
    if (!pass.value) { fail("Enter your password.", pass); return; }
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = "Signing in…";
    post("/login", { username: user.value, password: pass.value, remember: $("remember").checked }).then(function (r) {
      if (r.ok) { back(); return; }
      pass.value = "";
      if (r.status === 401) {
        fail("That username and password do not match. Check them and try again.", true);
      } else if (r.status === 429) {
        var wait = parseInt(r.headers.get("Retry-After") || "", 10);
        fail("Too many attempts. Try again " + (wait > 0 ? "in " + Math.ceil(wait / 60) + " min." : "later."), true);
      } else if (r.status === 403) {
        fail("You have too many active sessions. Sign out on another device, then try again.", true);
      } else {
        fail("Signing in is not possible right now. Try again in a moment.", true);
      }
    }, function () {
      fail("The server cannot be reached. Check your connection and try again.", true);
    });
  });

  signout.addEventListener("submit", function (e) {
    e.preventDefault();
    $("signout-button").disabled = true;
    post("/logout").then(function () { showForm("You are signed out."); },
      function () { showForm("You are signed out on this device."); });
  });
})();
