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

  // Half-typed text (an edited draft, a reply by hand) is kept in this tab's
  // sessionStorage as it is typed, so a session that expires loses none of it: it comes
  // back after signing in again. Cleared once the server took the decision or the reply.
  var KEPT = "inboxpilot:text:";
  function keptKey(field) {
    var card = field.closest(".qcard");
    if (card && field.name === "text") return KEPT + "draft-" + card.dataset.draft;
    var reply = field.closest("form.reply");
    if (reply) return KEPT + "reply-" + reply.getAttribute("action");
    return null;
  }
  function store(key, value) {
    try {
      if (value === null) sessionStorage.removeItem(key); else sessionStorage.setItem(key, value);
    } catch (e) { /* storage full or forbidden: nothing to keep it in */ }
  }
  function keep(field) {
    var key = keptKey(field);
    if (!key) return;
    var original = field.dataset.original !== undefined ? field.dataset.original : "";
    store(key, field.value === original || field.value === "" ? null : field.value);
  }
  document.addEventListener("input", function (event) {
    if (event.target.tagName === "TEXTAREA") keep(event.target);
  });
  function restore(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".qcard textarea[name=text], form.reply textarea"), function (field) {
      var key = keptKey(field), saved = null;
      try { saved = key && sessionStorage.getItem(key); } catch (e) { saved = null; }
      if (!saved || saved === field.value) return;
      field.value = saved;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      var note = document.createElement("p");
      note.className = "notice restored";
      note.setAttribute("role", "status");
      note.textContent = "Your unsent text was restored. Nothing of it has been sent yet.";
      // On a card, a row of its own (the card's form only lays out its parts).
      var card = field.closest(".qcard");
      var form = card && card.querySelector("form.qform");
      if (form && form.parentNode === card) card.insertBefore(note, form);
      else field.parentNode.insertBefore(note, field);
    });
  }
  // The server took it (the card became an outcome, the reply was queued): forget it.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!event.detail.successful || expired(xhr)) return;
    var path = (event.detail.requestConfig && event.detail.requestConfig.path) || "";
    var decided = /^\/queue\/(\d+)\/(approve|reject)$/.exec(path);
    if (decided) store(KEPT + "draft-" + decided[1], null);
    if (/^\/conversations\/\d+\/reply$/.test(path) && !/notice bad/.test(xhr.responseText)) store(KEPT + "reply-" + path, null);
  });

  function expired(xhr) {
    if (xhr.status === 401) return true;
    var url = xhr.responseURL;
    return !!url && new URL(url).pathname === "/login";
  }
  // A poll or a click after the session expired lands on the sign-in page: say so, keep
  // what was typed, and offer to sign in again, instead of drawing the sign-in page
  // inside this one or leaving it silently.
  var sessionGone = false;
  function sessionExpired() {
    Array.prototype.forEach.call(document.querySelectorAll("textarea"), keep);
    if (sessionGone) return;
    sessionGone = true;
    var poll = document.getElementById("queue-poll");
    if (poll) poll.remove();
    var focused = document.querySelector(".qcard.focused");
    var next = location.pathname + location.search + (focused ? "#draft-" + focused.dataset.draft : location.hash);
    var banner = document.createElement("div");
    banner.className = "notice bad session-expired";
    banner.id = "session-expired";
    banner.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = "Your session has expired, so nothing was sent. What you typed is kept in this tab and comes back when you sign in again.";
    var link = document.createElement("a");
    link.className = "button";
    link.href = "/login?next=" + encodeURIComponent(next);
    link.textContent = "Sign in again";
    banner.appendChild(text);
    banner.appendChild(link);
    var main = document.getElementById("main") || document.body;
    main.insertBefore(banner, main.firstChild);
    link.focus();
  }
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (expired(event.detail.xhr)) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      sessionExpired();
    }
  });
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (sessionGone && event.detail.elt && event.detail.elt.id === "queue-poll") event.preventDefault();
  });

  // Seconds left of a held reply (Undo on an approved card, the "about to send" strip).
  function countDown() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll("[data-until]"), function (el) {
      var left = Math.ceil((Date.parse(el.dataset.until) - now) / 1000);
      if (el.tagName === "FORM") { if (left <= 0) el.hidden = true; return; }
      var seconds = el.querySelector("[data-seconds]");
      if (left > 0 && seconds) seconds.textContent = String(left);
      else if (left <= 0 && el.dataset.done) el.textContent = el.dataset.done;
    });
  }
  setInterval(countDown, 1000);

  var list = document.getElementById("queue-list");
  if (!list) { restore(document); return; }

  function cards() { return Array.prototype.slice.call(list.querySelectorAll(".qcard")); }
  function pending() { return cards().filter(function (c) { return c.dataset.state === "pending"; }); }
  function current() { return list.querySelector(".qcard.focused"); }

  // The card the keys act on is the one in view: it follows the moderator's own
  // scrolling (wheel, touch, scroll keys, the scroll bar) and #draft-N links, and a key
  // never acts on a card that is not on screen (see onScreen and cardForKeys).
  var steered = 0;  // when the page last scrolled for a key or a link, not for the moderator
  function focusCard(card, scroll) {
    cards().forEach(function (c) { c.classList.toggle("focused", c === card); });
    if (!card) return;
    card.focus({ preventScroll: true });
    if (scroll !== false) {
      steered = Date.now();
      card.scrollIntoView({ block: scroll === "start" ? "start" : "nearest" });
    }
  }

  // Mostly visible: at least half of it, or half the window for a card taller than that.
  function onScreen(card) {
    if (!card || !card.isConnected) return false;
    var rect = card.getBoundingClientRect(), height = window.innerHeight;
    var shown = Math.min(rect.bottom, height) - Math.max(rect.top, 0);
    return shown > 0 && shown >= Math.min(rect.height, height) / 2;
  }
  var near = new Set();  // cards the IntersectionObserver says touch the window
  function inView() {
    var all = cards();
    var found = all.filter(function (c) { return near.has(c) && onScreen(c); })[0];
    // A card swapped in a moment ago may not be observed yet: then look at them all.
    return found || all.filter(onScreen)[0] || null;  // in page order: the nearest the top
  }
  var moderatorScrolled = 0;
  ["wheel", "touchmove", "mousedown"].forEach(function (kind) {
    window.addEventListener(kind, function () { moderatorScrolled = Date.now(); }, { passive: true });
  });
  document.addEventListener("keydown", function (event) {
    if (/^(PageUp|PageDown|Home|End| )$/.test(event.key) && !typing(event.target)) moderatorScrolled = Date.now();
  }, true);
  function follow() {
    if (typing(document.activeElement)) return;  // never pull focus out of a text box
    var card = current();
    var theirs = moderatorScrolled > steered && Date.now() - moderatorScrolled < 1500;
    if (!theirs && onScreen(card)) return;  // a key or link moved the page: keep its card
    var seen = inView();
    if (seen && seen !== card) focusCard(seen, false);
  }
  var scheduled = false;
  function followSoon() {
    if (scheduled) return;
    scheduled = true;
    window.requestAnimationFrame(function () { scheduled = false; follow(); });
  }
  window.addEventListener("scroll", followSoon, { passive: true });
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { if (e.isIntersecting) near.add(e.target); else near.delete(e.target); });
    followSoon();
  }, { threshold: [0, 0.25, 0.5, 0.75, 1] }) : null;
  function watch(root) {
    if (!observer) return;
    Array.prototype.forEach.call(root.querySelectorAll(".qcard"), function (c) { observer.observe(c); });
    if (root.classList && root.classList.contains("qcard")) observer.observe(root);
  }
  watch(list);
  // The card a key acts on: the focused one if it is on screen, else the one in view.
  function cardForKeys() {
    var card = current();
    if (onScreen(card)) return card;
    card = inView();
    if (card) focusCard(card, false);
    return card;
  }
  // /queue#draft-47 (a conversation's "review it" link): that card, on load and later.
  function focusFromHash() {
    var match = /^#draft-(\d+)$/.exec(location.hash);
    var card = match && document.getElementById("draft-" + match[1]);
    if (!card || !list.contains(card)) return false;
    focusCard(card, "start");
    return true;
  }
  window.addEventListener("hashchange", focusFromHash);

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
    if (/^[aeoru]$/.test(event.key)) card = cardForKeys();
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
      case "u":
        var undo = card && card.querySelector("form.undo:not([hidden])");
        if (undo) undo.requestSubmit();
        break;
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
    if (expired(event.detail.xhr)) return;
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
  document.body.addEventListener("htmx:afterSettle", function (event) {
    updateCount();
    var swapped = event.detail.elt;
    if (swapped && swapped.querySelectorAll) { watch(swapped); restore(swapped); }
    countDown();
    if (!focusedBefore) return;
    var now = document.getElementById("draft-" + focusedBefore.dataset.draft);
    if (now && now !== focusedBefore && now.dataset.state === "done") focusCard(nextAfter(now) || now);
    else if (now && now !== focusedBefore) focusCard(now, false);
    focusedBefore = null;
  });

  // An Undo brings the card back: say that nothing was sent.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var path = (event.detail.requestConfig && event.detail.requestConfig.path) || "";
    var undone = /^\/queue\/(\d+)\/undo$/.exec(path);
    var card = undone && document.getElementById("draft-" + undone[1]);
    if (!card || card.dataset.state !== "pending") return;
    var note = document.createElement("p");
    note.className = "notice";
    note.setAttribute("role", "status");
    note.textContent = "Approval undone: nothing was sent. The draft waits here again.";
    card.insertBefore(note, card.querySelector("form"));
  });

  restore(document);
  if (!focusFromHash()) focusCard(inView() || pending()[0] || null, false);
})();
