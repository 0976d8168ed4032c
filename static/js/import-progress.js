// The import page while its job runs: polls GET /jobs/{id} (the element's data-job-url)
// every second, moves the progress bar, and reloads the page once the job has ended (the
// server then shows the result or why it failed).
(function () {
  var box = document.querySelector("[data-job-url]");
  if (!box) return;
  var bar = box.querySelector("progress");
  var done = box.querySelector("[data-progress-done]");
  var total = box.querySelector("[data-progress-total]");
  var status = box.querySelector("[data-progress-status]");

  function show(job) {
    var max = job.progress.total || job.progress.done || 1;
    bar.max = max;
    bar.value = Math.min(job.progress.done, max);
    bar.textContent = job.progress.done + " of " + max + " rows";
    done.textContent = job.progress.done.toLocaleString();
    total.textContent = job.progress.total === null ? "?" : job.progress.total.toLocaleString();
    status.textContent = job.status;
  }

  function poll() {
    fetch(box.dataset.jobUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (job.status === "succeeded" || job.status === "failed") {
          window.location.assign(box.dataset.doneUrl);
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 3000);
      });
  }

  window.setTimeout(poll, 500);
})();
