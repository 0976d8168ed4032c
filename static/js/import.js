// The CSV import page: a form marked data-busy="<id>" disables its submit button and shows
// the status element <id> when sent, so a long upload or import visibly runs (and is not
// sent twice).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.dataset || !form.dataset.busy) return;
  var status = document.getElementById(form.dataset.busy);
  if (status) status.hidden = false;
  // Disabled after the submit event has been handled, so the form is still sent.
  window.setTimeout(function () {
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = true;
    });
  }, 0);
});
