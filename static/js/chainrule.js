// Chainrule page behaviour: typeset math with KaTeX, on load and after every htmx swap.
(function () {
  "use strict";

  // Math that learners write (posts) may not size or expand itself beyond these: a \rule{100em}{100em}
  // or a macro bomb stays inside its post. Course text, written by instructors, gets KaTeX's defaults
  // for expansion and a generous size cap.
  var LEARNER_MATH = { maxSize: 5, maxExpand: 50 };
  var COURSE_MATH = { maxSize: 20, maxExpand: 1000 };

  // The grader marks the first wrong line of a derivation with \htmlClass{wrong-step}{…}; that
  // one command with that one class is the only thing KaTeX's trust lets through.
  function trustWrongStep(context) {
    return context.command === "\\htmlClass" && context.class === "wrong-step";
  }

  // Chinese punctuation must not be parted from the formula it follows or precedes: a browser may
  // break a line between typeset math and "，" or "。". Wrap them in a span that does not wrap
  // (white-space: nowrap in chainrule.css).
  var CLOSING = /^[，。、；：？！）》」』”’]+/;
  var OPENING = /[（《「『“‘]+$/;
  function keepPunctuationWithMath(el) {
    var next = el.nextSibling;
    var previous = el.previousSibling;
    var after = next && next.nodeType === Node.TEXT_NODE && next.data.match(CLOSING);
    var before = previous && previous.nodeType === Node.TEXT_NODE && previous.data.match(OPENING);
    if (!after && !before) return;
    var glue = document.createElement("span");
    glue.className = "math-glue";
    el.parentNode.insertBefore(glue, el);
    if (before) {
      previous.data = previous.data.slice(0, previous.data.length - before[0].length);
      glue.appendChild(document.createTextNode(before[0]));
    }
    glue.appendChild(el);
    if (after) {
      next.data = next.data.slice(after[0].length);
      glue.appendChild(document.createTextNode(after[0]));
    }
  }

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
          trust: el.closest(".user-content") ? false : trustWrongStep,
          maxSize: limits.maxSize,
          maxExpand: limits.maxExpand,
        });
        el.setAttribute("data-rendered", "");
        el.setAttribute("data-tex", tex);
        if (!el.classList.contains("math-display")) keepPunctuationWithMath(el);
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
