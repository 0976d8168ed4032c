// Starts ReDoc on /redoc without an inline script.
(function () {
  var container = document.getElementById("redoc-container");
  Redoc.init(container.dataset.specUrl, {}, container);
})();
