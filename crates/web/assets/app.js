// paperboy: small enhancements; every page works without this script.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("paperboy-theme"); } catch (e) { /* private mode */ }
  if (saved === "light" || saved === "dark") root.setAttribute("data-theme", saved);

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector(".theme-toggle");
    if (toggle) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        var dark = root.getAttribute("data-theme") === "dark" ||
          (!root.getAttribute("data-theme") && window.matchMedia("(prefers-color-scheme: dark)").matches);
        var next = dark ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { localStorage.setItem("paperboy-theme", next); } catch (e) { /* private mode */ }
      });
    }
    // Marks (upvote, not for me, read, save) post in place; without this script the same
    // forms post and come back to the page.
    var labels = {
      up: ["\u25B2 Upvote", "\u25B2 Upvoted"],
      not_for_me: ["Not for me", "Not for me \u2713"],
      read: ["Mark read", "Read \u2713"],
      save: ["Save", "Saved \u2713"]
    };
    var show = function (group, state) {
      var on = {
        up: state.vote === "up",
        not_for_me: state.vote === "not_for_me",
        read: state.read,
        save: state.saved
      };
      var off = { up: "up", not_for_me: "not_for_me", read: "read", save: "save" };
      var clear = { up: "clear_vote", not_for_me: "clear_vote", read: "unread", save: "unsave" };
      group.querySelectorAll("form.mark").forEach(function (f) {
        var kind = f.getAttribute("data-kind");
        if (!labels[kind]) return;
        var button = f.querySelector("button");
        button.setAttribute("aria-pressed", on[kind] ? "true" : "false");
        button.textContent = labels[kind][on[kind] ? 1 : 0];
        f.querySelector("input[name=action]").value = on[kind] ? clear[kind] : off[kind];
      });
      var item = group.closest("li.paper");
      var count = item && item.querySelector(".votes .count");
      if (count && state.upvotes) count.textContent = state.upvotes.total;
    };
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList || !form.classList.contains("mark") || !window.fetch) return;
      event.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      // getAttribute: the form's hidden input named "action" shadows form.action.
      fetch(form.getAttribute("action"), {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      }).then(function (state) {
        show(form.closest(".actions") || form.parentNode, state);
      }).catch(function () {
        form.submit();
      }).then(function () {
        button.disabled = false;
      });
    });
    // LaTeX in titles, abstracts and snippets, rendered by the KaTeX served with the page.
    // "$250 … $7,800" is money, not math: when a text has a dollar before a digit and no
    // dollar-delimited span with TeX in it (\ ^ _ { }), single dollars are left alone.
    var money = function (text) {
      return /\$\d/.test(text) && !/\$[^$]*[\\^_{}][^$]*\$/.test(text);
    };
    if (window.renderMathInElement) {
      document.querySelectorAll(".math").forEach(function (el) {
        var delimiters = [
          { left: "$$", right: "$$", display: true },
          { left: "\\[", right: "\\]", display: true },
          { left: "\\(", right: "\\)", display: false }
        ];
        if (!money(el.textContent)) delimiters.push({ left: "$", right: "$", display: false });
        window.renderMathInElement(el, {
          delimiters: delimiters,
          throwOnError: false,
          ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option"]
        });
      });
    }
  });
})();
