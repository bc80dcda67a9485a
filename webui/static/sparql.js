/* The SPARQL page: copy a worked example into the editor. */
(function () {
  "use strict";
  var editor = document.getElementById("query");
  document.querySelectorAll(".load-example").forEach(function (b) {
    b.addEventListener("click", function () {
      var pre = b.parentElement.querySelector("pre");
      editor.value = pre.textContent;
      editor.focus();
      editor.scrollIntoView({ block: "center" });
    });
  });
})();
