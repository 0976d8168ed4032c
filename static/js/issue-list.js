// "Select every issue on this page" for the bulk status form. Without JavaScript the
// box stays hidden and each row is picked on its own.
(function () {
  const all = document.getElementById("select-all");
  if (!all) return;
  const boxes = () => Array.from(document.querySelectorAll('input[name="issue_ids"]'));
  all.hidden = false;
  all.addEventListener("change", () => boxes().forEach((box) => { box.checked = all.checked; }));
  document.addEventListener("change", (event) => {
    if (event.target.name !== "issue_ids") return;
    const picked = boxes().filter((box) => box.checked).length;
    all.checked = picked > 0 && picked === boxes().length;
    all.indeterminate = picked > 0 && !all.checked;
  });
})();

// On a narrow screen the filters fold behind their "Filters" button (the page is sent
// with them open, so without JavaScript they simply show).
(function () {
  const panel = document.querySelector("details.filters-panel");
  if (!panel) return;
  const narrow = window.matchMedia("(max-width: 640px)");
  if (narrow.matches) panel.open = false;
  // Widened past a phone's width, the button is gone: show the filters again.
  narrow.addEventListener("change", () => { if (!narrow.matches) panel.open = true; });
})();
