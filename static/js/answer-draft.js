// Keep the last keystrokes of an answer: the page saves drafts 800 ms after typing stops (htmx on
// #draft-status); a learner who leaves sooner (a link, Back, closing the tab) would lose what they
// typed since, so on pagehide an unsaved answer is sent with navigator.sendBeacon instead. The
// form's own fields go with it, the CSRF token included.
(function () {
  "use strict";
  var status = document.getElementById("draft-status");
  var field = document.getElementById("answer");
  if (!status || !field || !field.form || !navigator.sendBeacon) return;
  var unsaved = false;
  field.addEventListener("input", function () { unsaved = true; });
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    // A draft save or a check carries the current text: nothing is left to send on leaving.
    var elt = event.detail.elt;
    if (elt === status || elt === field.form) unsaved = false;
  });
  window.addEventListener("pagehide", function () {
    if (!unsaved) return;
    if (window.chainrule && window.chainrule.codeEditor) window.chainrule.codeEditor.save();
    if (navigator.sendBeacon(status.getAttribute("hx-post"), new FormData(field.form))) {
      unsaved = false;
    }
  });
})();
