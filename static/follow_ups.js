// Follow-up questions on the score page: show the ones for the class of the chosen score, and say that they
// were on the page (the server then stores them with the score instead of asking in a second step).
(function () {
  var form = document.querySelector("form[data-follow-ups]");
  if (!form) return;
  var inline = document.createElement("input");
  inline.type = "hidden";
  inline.name = "follow_ups_inline";
  inline.value = "1";
  form.appendChild(inline);
  function show() {
    var chosen = form.querySelector('input[name="score"]:checked');
    var answerClass = chosen ? chosen.getAttribute("data-class") : null;
    form.querySelectorAll("fieldset[data-show-to]").forEach(function (fieldset) {
      var shown = answerClass !== null && fieldset.getAttribute("data-show-to").split(" ").indexOf(answerClass) >= 0;
      fieldset.hidden = !shown;
      fieldset.querySelectorAll("input").forEach(function (input) { input.disabled = !shown; });
    });
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "score") show();
  });
  show();
})();
