// Chainrule page behaviour: typeset math with KaTeX, on load and after every htmx swap.
(function () {
  "use strict";

  // Math that learners write (posts) may not size or expand itself beyond these: a \rule{100em}{100em}
  // or a macro bomb stays inside its post. Course text, written by instructors, gets KaTeX's defaults
  // for expansion and a generous size cap.
  var LEARNER_MATH = { maxSize: 5, maxExpand: 50 };
  var COURSE_MATH = { maxSize: 20, maxExpand: 1000 };

  function renderMath(root) {
    if (!window.katex) return;
    root.querySelectorAll(".math:not([data-rendered])").forEach(function (el) {
      var tex = el.textContent;
      var limits = el.closest(".user-content") ? LEARNER_MATH : COURSE_MATH;
      try {
        window.katex.render(tex, el, {
          displayMode: el.classList.contains("math-display"),
          throwOnError: false,
          output: "htmlAndMathml",
          trust: false,
          maxSize: limits.maxSize,
          maxExpand: limits.maxExpand,
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
