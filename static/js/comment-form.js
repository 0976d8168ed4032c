// Ctrl+Enter (Cmd+Enter on a Mac) in the comment box sends the comment, as the Comment
// button does. Without JavaScript the button is still there.
(function () {
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var field = event.target;
    if (!field || field.tagName !== "TEXTAREA") return;
    var form = field.closest("form.comment-form");
    if (!form) return;
    event.preventDefault();
    var send = form.querySelector('button[type="submit"].primary');
    if (form.requestSubmit) form.requestSubmit(send || undefined);
    else form.submit();
  });
})();
