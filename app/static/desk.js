// The desk for volume: selection and bulk actions, the filters, "Details" toggles and the
// Edit button. Keys, focus and polling live in queue.js. No build step.
(function () {
  "use strict";
  var list = document.getElementById("queue-list");
  var bulk = document.getElementById("desk-bulk");
  if (!list || !bulk) return;
  var all = document.getElementById("desk-select-all");
  var counter = document.getElementById("desk-selected");
  var ids = bulk.querySelector("input[name=ids]");
  var reasonBox = document.getElementById("desk-bulk-reason");
  var rejectToggle = bulk.querySelector("[data-action=bulk-reject]");

  function boxes() {
    return Array.prototype.slice.call(list.querySelectorAll(".qcard[data-state=pending] .qselect"));
  }
  function chosen() { return boxes().filter(function (b) { return b.checked; }); }
  function draftCount(box) { return box.value.split(",").length; }

  function refresh() {
    var picked = chosen();
    var drafts = picked.reduce(function (n, b) { return n + draftCount(b); }, 0);
    counter.textContent = drafts + " selected";
    ids.value = picked.map(function (b) { return b.value; }).join(",");
    Array.prototype.forEach.call(bulk.querySelectorAll("button"), function (b) { b.disabled = drafts === 0; });
    var shown = boxes();
    all.checked = shown.length > 0 && picked.length === shown.length;
    all.indeterminate = picked.length > 0 && picked.length < shown.length;
    bulk.classList.toggle("active", drafts > 0);
    shown.forEach(function (b) { b.closest(".qcard").classList.toggle("selected", b.checked); });
    if (!drafts) openBulkReject(false);
  }

  function openBulkReject(open) {
    reasonBox.hidden = !open;
    rejectToggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) reasonBox.querySelector("input").focus();
  }

  // Waiting drafts, not cards: a group of 19 is 19 drafts.
  function updateCount() {
    var count = document.getElementById("queue-count");
    var drafts = Array.prototype.reduce.call(
      list.querySelectorAll(".qcard[data-state=pending]"),
      function (n, card) { return n + (card.dataset.ids ? card.dataset.ids.split(",").length : 1); }, 0);
    if (count) count.textContent = drafts + " waiting";
  }

  list.addEventListener("change", function (event) {
    if (event.target.classList.contains("qselect")) refresh();
  });
  all.addEventListener("change", function () {
    boxes().forEach(function (b) { b.checked = all.checked; });
    refresh();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    var action = button.dataset.action;
    var card = button.closest(".qcard");
    if (action === "more") {
      var more = document.getElementById(button.getAttribute("aria-controls"));
      if (!more) return;
      more.hidden = !more.hidden;
      button.setAttribute("aria-expanded", more.hidden ? "false" : "true");
    } else if (action === "edit" && card) {
      var text = card.querySelector("textarea");
      if (text) { text.focus(); text.setSelectionRange(text.value.length, text.value.length); }
    } else if (action === "bulk-reject") {
      openBulkReject(reasonBox.hidden);
    } else if (action === "close-result") {
      var result = document.getElementById("desk-result");
      if (result) result.hidden = true;
    }
  });

  // After a bulk action, the cards it decided leave the queue; refused ones stay selected.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt !== bulk || !event.detail.successful) return;
    var result = document.getElementById("desk-result");
    var keep = ((result && result.dataset.keep) || "").split(",");
    chosen().forEach(function (b) {
      var stays = b.value.split(",").some(function (id) { return keep.indexOf(id) >= 0; });
      if (stays) return;
      b.closest(".qcard").remove();
    });
    reasonBox.querySelector("input").value = "";
    refresh();
    updateCount();
    if (result) result.scrollIntoView({ block: "nearest" });
  });
  // Cards appended by the poll or replaced after a decision: keep the counts right.
  document.body.addEventListener("htmx:afterSettle", function () { refresh(); updateCount(); });

  // Filters apply as soon as they change (the search on Enter or its button), with only
  // the parameters that narrow anything in the address, so it stays short and shareable.
  var filters = document.getElementById("desk-filters");
  function apply() {
    var params = new URLSearchParams();
    new FormData(filters).forEach(function (value, key) {
      if (value !== "" && !(key === "sort" && value === "oldest")) params.append(key, value);
    });
    var query = params.toString();
    var more = document.getElementById("desk-more");
    if (more) sessionStorage.setItem("desk-filters-open", more.open ? "1" : "0");
    window.location.href = "/queue" + (query ? "?" + query : "");
  }
  if (filters) {
    filters.addEventListener("change", function (event) {
      if (event.target.tagName === "SELECT" || event.target.type === "checkbox") apply();
    });
    filters.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
    // The filters stay open (or closed) the way the moderator left them.
    var more = document.getElementById("desk-more");
    if (more) {
      if (sessionStorage.getItem("desk-filters-open") === "1") more.open = true;
      more.addEventListener("toggle", function () {
        sessionStorage.setItem("desk-filters-open", more.open ? "1" : "0");
      });
    }
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    if (event.key === "/") {
      var search = document.getElementById("desk-q");
      if (search) { event.preventDefault(); search.focus(); }
    } else if (event.key === "x") {
      var card = list.querySelector(".qcard.focused[data-state=pending]");
      var box = card && card.querySelector(".qselect");
      if (box) { event.preventDefault(); box.checked = !box.checked; refresh(); }
    }
  });

  refresh();
})();
