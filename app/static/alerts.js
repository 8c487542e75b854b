// Alerts on signed-in pages: the waiting count in the tab title ("(12) Queue · inboxpilot"),
// and on /account/alerts the button that turns web push on or off for this browser.
// Loaded only for signed-in people (base.html); no inline script (CSP).
(function () {
  "use strict";
  var COUNT_URL = "/account/alerts/pending";
  var POLL_MS = 30000;
  var base = document.title.replace(/^\(\d+\) /, "");
  var timer = null;
  var soon = null;

  function show(count) {
    document.title = count > 0 ? "(" + count + ") " + base : base;
  }

  function refresh() {
    // Only while the tab is visible: a hidden tab polling would keep the session awake.
    if (document.visibilityState !== "visible") return;
    fetch(COUNT_URL, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && typeof data.pending === "number") show(data.pending); })
      .catch(function () { /* offline: keep the last count */ });
  }

  function start() {
    refresh();
    if (timer === null) timer = setInterval(refresh, POLL_MS);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refresh();
  });
  // A decision on the queue changes the count: ask again shortly after htmx swaps.
  document.addEventListener("htmx:afterSettle", function () {
    if (soon !== null) clearTimeout(soon);
    soon = setTimeout(refresh, 800);
  });
  start();

  // --- web push ---------------------------------------------------------------------------
  var on = document.getElementById("push-on");
  var off = document.getElementById("push-off");
  var status = document.getElementById("push-status");
  if (!on || !status) return;

  function say(text) { status.textContent = text; }

  function key(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": on.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (r) { if (!r.ok) throw new Error("the server answered " + r.status); });
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    on.disabled = true;
    say("This browser cannot receive push notifications.");
    return;
  }

  function registration() {
    return navigator.serviceWorker.register("/static/alerts-sw.js");
  }

  function current() {
    return navigator.serviceWorker.getRegistration("/static/alerts-sw.js").then(function (reg) {
      return reg ? reg.pushManager.getSubscription() : null;
    });
  }

  current().then(function (sub) {
    if (sub && off) { off.hidden = false; on.hidden = true; say("Push is on for this browser."); }
  }).catch(function () {});

  on.addEventListener("click", function () {
    on.disabled = true;
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") throw new Error("notifications are blocked for this site");
      return registration();
    }).then(function (reg) {
      return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(on.dataset.vapidKey) });
    }).then(function (sub) {
      return post("/account/alerts/push", sub.toJSON());
    }).then(function () {
      say("Push is on for this browser.");
      on.hidden = true;
      if (off) off.hidden = false;
    }).catch(function (error) {
      say("Push could not be turned on: " + error.message + ".");
    }).then(function () { on.disabled = false; });
  });

  if (off) off.addEventListener("click", function () {
    current().then(function (sub) {
      if (!sub) return null;
      var endpoint = sub.endpoint;
      return sub.unsubscribe().then(function () { return post("/account/alerts/push/remove", { endpoint: endpoint }); });
    }).then(function () {
      say("Push is off for this browser.");
      off.hidden = true;
      on.hidden = false;
    }).catch(function (error) { say("Push could not be turned off: " + error.message + "."); });
  });
})();
