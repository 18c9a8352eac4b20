// Chainrule page behaviour: typeset math with KaTeX, on load and after every htmx swap.
(function () {
  "use strict";

  function renderMath(root) {
    if (!window.katex) return;
    root.querySelectorAll(".math:not([data-rendered])").forEach(function (el) {
      var tex = el.textContent;
      try {
        window.katex.render(tex, el, {
          displayMode: el.classList.contains("math-display"),
          throwOnError: false,
          output: "htmlAndMathml",
        });
        el.setAttribute("data-rendered", "");
        el.setAttribute("data-tex", tex);
      } catch (err) {
        el.classList.add("math-error");
      }
    });
  }

  // Other scripts (the code editor) may have registered on window.chainrule already: keep them.
  window.chainrule = Object.assign(window.chainrule || {}, { renderMath: renderMath });

  document.addEventListener("DOMContentLoaded", function () {
    renderMath(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    renderMath(event.target);
  });
})();
