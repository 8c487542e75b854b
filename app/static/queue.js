// The desk's script: the queue's keyboard shortcuts, focus handling and polling
// parameters, and pictures that fail to load. No build step.
(function () {
  "use strict";
  // Meta's picture links expire: a picture that does not load gives way to the initial.
  function noPicture(img) {
    var span = document.createElement("span");
    span.className = "avatar initial";
    span.setAttribute("aria-hidden", "true");
    span.textContent = img.dataset.initial || "?";
    img.replaceWith(span);
  }
  document.addEventListener("error", function (event) {
    var img = event.target;
    if (img.tagName === "IMG" && img.classList.contains("avatar")) noPicture(img);
  }, true);
  Array.prototype.forEach.call(document.querySelectorAll("img.avatar"), function (img) {
    if (img.complete && img.naturalWidth === 0) noPicture(img);
  });

  // A poll or a click after the session expired lands on the sign-in page: go there
  // instead of drawing it inside the page.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var url = event.detail.xhr.responseURL;
    if (url && new URL(url).pathname === "/login") {
      event.detail.shouldSwap = false;
      window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    }
  });

  var list = document.getElementById("queue-list");
  if (!list) return;

  function cards() { return Array.prototype.slice.call(list.querySelectorAll(".qcard")); }
  function pending() { return cards().filter(function (c) { return c.dataset.state === "pending"; }); }
  function current() { return list.querySelector(".qcard.focused"); }

  function focusCard(card, scroll) {
    cards().forEach(function (c) { c.classList.toggle("focused", c === card); });
    if (!card) return;
    card.focus({ preventScroll: true });
    if (scroll !== false) card.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = cards();
    if (!all.length) return;
    var index = all.indexOf(current());
    var next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    focusCard(all[next]);
  }

  function updateCount() {
    var count = document.getElementById("queue-count");
    if (count) count.textContent = pending().length + " waiting";
  }

  function approve(card) {
    var form = card && card.querySelector("form.qform");
    if (form) form.requestSubmit();
  }

  function openReject(card, open) {
    var form = card && card.querySelector("form.reject");
    var toggle = card && card.querySelector("[data-action=reject]");
    if (!form) return;
    form.hidden = !open;
    if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) form.querySelector("input[name=reason]").focus();
    else card.focus();
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    var dialog = document.getElementById("shortcuts");
    var card = event.target.closest ? event.target.closest(".qcard") : null;
    if (typing(event.target)) {
      if (event.target.tagName === "TEXTAREA" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        approve(card);
      } else if (event.key === "Escape" && card) {
        if (event.target.name === "reason") openReject(card, false);
        else focusCard(card);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || (dialog && dialog.open)) return;
    card = current() || card;
    switch (event.key) {
      case "j": case "ArrowDown": move(1); break;
      case "k": case "ArrowUp": move(-1); break;
      case "a": if (card && card.dataset.state === "pending") approve(card); break;
      case "e":
        var text = card && card.querySelector("textarea");
        if (text) { text.focus(); text.setSelectionRange(text.value.length, text.value.length); }
        break;
      case "r": if (card && card.dataset.state === "pending") openReject(card, true); break;
      case "o": if (card) window.location.href = card.dataset.conversation; break;
      case "?": if (dialog) dialog.showModal(); break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button, a");
    var card = event.target.closest(".qcard");
    if (card) focusCard(card, false);
    if (!button) return;
    var action = button.dataset.action;
    if (action === "reject") openReject(card, true);
    else if (action === "cancel-reject") openReject(card, false);
    else if (action === "dismiss") { var next = nextAfter(card); card.remove(); updateCount(); focusCard(next); }
    else if (button.id === "shortcuts-open") document.getElementById("shortcuts").showModal();
  });

  // The approve button says when the moderator's own text will be sent.
  document.addEventListener("input", function (event) {
    if (event.target.tagName !== "TEXTAREA") return;
    var card = event.target.closest(".qcard");
    var button = card && card.querySelector("[data-action=approve]");
    if (button) button.textContent = event.target.value === event.target.dataset.original ? "Approve" : "Approve edited";
  });

  var filter = document.getElementById("account-filter");
  if (filter) filter.addEventListener("change", function () { filter.form.submit(); });

  function nextAfter(card) {
    var all = pending();
    var after = all.filter(function (c) {
      return card.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING;
    });
    return after[0] || all[all.length - 1] || null;
  }

  // The poll says which cards are on screen, so it can report those handled elsewhere.
  document.body.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt.id === "queue-poll") {
      event.detail.parameters.shown = pending().map(function (c) { return c.dataset.draft; }).join(",");
    }
  });

  // A decided card keeps focus where the moderator was: on the next draft.
  var focusedBefore = null;
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    focusedBefore = current();
    var target = event.detail.target;
    if (event.detail.xhr.status >= 400 && target && target.classList.contains("qcard")) {
      var message = event.detail.xhr.status === 403
        ? "Your session's security token was refused; reload the page and try again."
        : event.detail.xhr.status === 404
          ? "This draft is not in your accounts."
          : "That did not work (" + event.detail.xhr.status + "); try again.";
      var note = target.querySelector(".qerror") || document.createElement("p");
      note.className = "notice bad qerror";
      note.setAttribute("role", "alert");
      note.textContent = message;
      target.insertBefore(note, target.querySelector("form"));
    }
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    updateCount();
    if (!focusedBefore) return;
    var now = document.getElementById("draft-" + focusedBefore.dataset.draft);
    if (now && now !== focusedBefore && now.dataset.state === "done") focusCard(nextAfter(now) || now);
    else if (now && now !== focusedBefore) focusCard(now, false);
    focusedBefore = null;
  });

  focusCard(pending()[0] || null, false);
})();
