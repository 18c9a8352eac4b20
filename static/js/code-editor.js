// Turn the code textarea into a CodeMirror editor; the textarea stays the form field, so the page
// works without JavaScript and the editor's text is what is submitted.
(function () {
  "use strict";
  var textarea = document.getElementById("answer");
  if (!textarea || !window.CodeMirror) return;
  var editor = window.CodeMirror.fromTextArea(textarea, {
    mode: "python",
    lineNumbers: true,
    indentUnit: 4,
    matchBrackets: true,
    viewportMargin: Infinity,
    extraKeys: {
      Tab: function (cm) { cm.execCommand("indentMore"); },
      "Shift-Tab": function (cm) { cm.execCommand("indentLess"); },
      // Let keyboard users leave the editor.
      Esc: function (cm) { cm.getInputField().blur(); },
    },
  });
  // The page supplies the label in the reader's language (data-editor-label on the textarea).
  editor.getInputField().setAttribute("aria-label", textarea.dataset.editorLabel || textarea.id);
  textarea.form.addEventListener("submit", function () { editor.save(); });
  document.body.addEventListener("htmx:configRequest", function () { editor.save(); });
  // Typing in the editor counts as typing in the field: the page saves drafts on its input events.
  editor.on("changes", function () {
    editor.save();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  });
  window.chainrule = window.chainrule || {};
  window.chainrule.codeEditor = editor;
})();
