// Copy buttons: <button data-copy="id-of-input" data-copied="Copied">. Shown only where the script
// runs (the input stays selectable without it); the result is announced in the nearest .copy-status.
(function () {
  "use strict";

  function announce(button, text) {
    var card = button.closest("section, form, div");
    var status = card && card.parentNode.querySelector(".copy-status");
    if (status) status.textContent = text;
  }

  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () {
      announce(button, button.getAttribute("data-copied") || "");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        if (document.execCommand("copy")) done();
      });
    } else if (document.execCommand("copy")) {
      done();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        copy(button);
      });
    });
    document.querySelectorAll("input.select-on-focus").forEach(function (input) {
      input.addEventListener("focus", function () {
        input.select();
      });
    });
  });
})();
