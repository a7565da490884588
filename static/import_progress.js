// The CSV import form with a progress bar: the upload's bytes, then "importing" until the server answers.
// Without this script the form posts as any form does.
(function () {
  "use strict";
  var form = document.querySelector("form[data-import]");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var box = form.querySelector(".progress");
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-progress-label]");
    var button = form.querySelector("button[type=submit]");
    box.hidden = false;
    button.disabled = true;
    var request = new XMLHttpRequest();
    request.open("POST", form.action || window.location.href);
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    request.upload.addEventListener("load", function () {
      bar.removeAttribute("value"); // indeterminate while the rows are stored
      label.textContent = label.getAttribute("data-importing") || "…";
    });
    request.addEventListener("load", function () {
      if (request.status === 200 && request.responseURL && request.responseURL !== window.location.href) {
        window.location.href = request.responseURL;
        return;
      }
      document.open();
      document.write(request.responseText);
      document.close();
    });
    request.addEventListener("error", function () {
      button.disabled = false;
      label.textContent = form.getAttribute("data-failed") || "The upload failed.";
    });
    request.send(new FormData(form));
  });
})();
