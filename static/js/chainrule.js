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

  // A box that scrolls sideways (wide math, code, tables) gets .scrolls, and .scrolled /
  // .scrolled-to-end as the reader moves along it: chainrule.css fades the edges it continues past.
  var SCROLLERS = ".math-display, .user-content .katex-display, .table-scroll, pre, .answer-code";
  function markScrolling(box) {
    var wide = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("scrolls", wide);
    box.classList.toggle("scrolled", wide && box.scrollLeft > 1);
    box.classList.toggle("scrolled-to-end", wide && box.scrollLeft + box.clientWidth >= box.scrollWidth - 1);
    if (wide && !box.hasAttribute("tabindex")) {
      // Keyboard users can scroll it too (axe: scrollable-region-focusable).
      box.setAttribute("tabindex", "0");
    }
    if (wide && !box.dataset.scrollWatched) {
      box.dataset.scrollWatched = "1";
      box.addEventListener("scroll", function () { markScrolling(box); }, { passive: true });
    }
  }
  function markAllScrolling(root) {
    root.querySelectorAll(SCROLLERS).forEach(markScrolling);
  }

  // The header's Menu button (shown by chainrule.css on narrow screens once this runs).
  function setUpMenu() {
    var toggle = document.querySelector(".nav-toggle");
    if (!toggle) return;
    var nav = toggle.closest(".nav");
    nav.classList.add("nav-collapsible");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("nav-open", open);
    });
  }

  // Verdicts arrive by swapping HTML in, which screen readers do not announce: copy each new
  // verdict's headline and diagnosis into the page's permanent live region (#announcer).
  var announced = new WeakSet();
  function verdictText(verdict) {
    var parts = [];
    var head = verdict.querySelector(".verdict-head strong");
    if (head) parts.push(head.textContent.trim());
    var diagnosis = verdict.querySelector(".verdict-messages li");
    if (diagnosis) parts.push(diagnosis.textContent.replace(/\s+/g, " ").trim());
    return parts.join(". ");
  }
  function announceVerdicts(initial) {
    var announcer = document.getElementById("announcer");
    document.querySelectorAll("#result [data-verdict]").forEach(function (verdict) {
      if (announced.has(verdict)) return;
      announced.add(verdict);
      if (initial || !announcer) return;
      // Emptied first, so the same words twice in a row are announced twice.
      var text = verdictText(verdict);
      announcer.textContent = "";
      setTimeout(function () { announcer.textContent = text; }, 50);
    });
  }

  // Other scripts (the code editor) may have registered on window.chainrule already: keep them.
  window.chainrule = Object.assign(window.chainrule || {}, { renderMath: renderMath });

  document.addEventListener("DOMContentLoaded", function () {
    renderMath(document);
    markAllScrolling(document);
    // KaTeX's fonts change the widths once they arrive.
    if (document.fonts) document.fonts.ready.then(function () { markAllScrolling(document); });
    setUpMenu();
    announceVerdicts(true);
    // However a verdict is delivered (polling, a stream, a full swap), it appears in the DOM.
    new MutationObserver(function () { announceVerdicts(false); }).observe(document.body, {
      childList: true,
      subtree: true,
    });
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    renderMath(event.target);
    markAllScrolling(document);
  });
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { markAllScrolling(document); }, 150);
  });
})();
