// Behaviour every page may need, kept out of the markup so the Content-Security-Policy
// can forbid inline script: elements opt in with data- attributes. No build step.
(function () {
  "use strict";
  // The simulator's form: a message that was sent (the answer pushes a new URL) is
  // cleared, so the next one can be typed at once.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-clear-on-success")) return;
    if (event.detail.successful && event.detail.xhr.getResponseHeader("HX-Push-Url")) {
      var text = form.querySelector("textarea");
      if (text) text.value = "";
    }
  });

  // An invitation link carries its code in the fragment (/invite#inv_...), which the
  // browser never sends: post it in the form instead, and drop it from the address bar
  // and the history.
  var opener = document.querySelector("form[data-invite-fragment]");
  var code = "";
  try { code = decodeURIComponent(window.location.hash.slice(1)); } catch (e) { code = ""; }
  if (opener && code) {
    history.replaceState(null, "", window.location.pathname);
    opener.querySelector("input[name=token]").value = code;
    var waiting = opener.querySelector("[data-invite-waiting]");
    if (waiting) waiting.hidden = false;
    opener.submit();
  }

  // A link to copy (a new invitation's): selected whole when focused.
  document.addEventListener("focusin", function (event) {
    var input = event.target;
    if (input instanceof HTMLInputElement && input.hasAttribute("data-select-on-focus")) input.select();
  });
})();
