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
