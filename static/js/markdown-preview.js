// The Write/Preview toggle of a Markdown field (.md-editor around a textarea). The preview
// is the server's rendering (POST to data-preview-url), the same code as the issue page,
// so what is previewed is what will be shown. Without JavaScript the textarea stays plain.
(function () {
  function button(text, pressed) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.setAttribute("aria-pressed", pressed ? "true" : "false");
    return b;
  }

  function csrfToken(form) {
    var input = form && form.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function setUp(editor) {
    var textarea = editor.querySelector("textarea");
    if (!textarea) return;
    var write = button("Write", true);
    var preview = button("Preview", false);
    var tabs = document.createElement("div");
    tabs.className = "md-tabs";
    tabs.setAttribute("role", "group");
    tabs.setAttribute("aria-label", "Write or preview");
    tabs.append(write, preview);
    var output = document.createElement("div");
    output.className = "md-preview prose markdown";
    output.hidden = true;
    output.setAttribute("aria-live", "polite");
    textarea.before(tabs);
    textarea.after(output);

    function show(previewing) {
      write.setAttribute("aria-pressed", previewing ? "false" : "true");
      preview.setAttribute("aria-pressed", previewing ? "true" : "false");
      textarea.hidden = previewing;
      output.hidden = !previewing;
    }

    write.addEventListener("click", function () {
      show(false);
      textarea.focus();
    });
    preview.addEventListener("click", function () {
      var body = new FormData();
      body.append("text", textarea.value);
      output.textContent = "Loading preview…";
      show(true);
      fetch(editor.dataset.previewUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(textarea.form) },
      })
        .then(function (response) {
          // 200 is the rendered fragment, 400 the field rule's message (also a fragment);
          // anything else (an expired session's CSRF page, a server down) is not shown.
          if (!response.ok && response.status !== 400) throw new Error(response.status);
          return response.text();
        })
        .then(function (html) { output.innerHTML = html; })
        .catch(function () { output.textContent = "The preview could not be loaded."; });
    });
  }

  document.querySelectorAll(".md-editor").forEach(setUp);
})();
