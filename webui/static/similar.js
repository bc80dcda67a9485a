// A search result's 「其他機關的類似作法」, fetched from /api/similar/<id> the first time it is opened: each is a
// search of its own, so the results page answers without running one per result. No inline script (the
// Content-Security-Policy forbids it); without this file the link to the measure page still shows them.
(function () {
  "use strict";

  function show(details, data) {
    var list = details.querySelector("ul");
    var status = details.querySelector(".similar-status");
    data.similar.forEach(function (s) {
      var a = document.createElement("a");
      a.href = s.url;
      a.textContent = s.label;
      var li = document.createElement("li");
      li.appendChild(a);
      list.appendChild(li);
    });
    status.textContent = data.similar.length ? "" : "沒有其他機關的類似作法。";
    status.hidden = data.similar.length > 0;
  }

  function load(details) {
    if (details.getAttribute("data-loaded")) return;
    details.setAttribute("data-loaded", "1");
    fetch(details.getAttribute("data-src"), { headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.json();
      })
      .then(function (data) { show(details, data); })
      .catch(function () {
        details.removeAttribute("data-loaded");
        details.querySelector(".similar-status").textContent = "無法讀取類似作法，請稍後再開一次。";
      });
  }

  document.querySelectorAll("details.similar[data-src]").forEach(function (details) {
    details.addEventListener("toggle", function () {
      if (details.open) load(details);
    });
    if (details.open) load(details);
  });
})();
