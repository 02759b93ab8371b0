(function () {
  "use strict";
  var LIMIT = 1000;
  var data = JSON.parse(document.getElementById("nminus-data").textContent);
  var sev = data.severities;
  var rows = data.rows.map(function (r) {
    return {
      r: r,
      hay: [r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[9]].join("\u0000").toLowerCase()
    };
  });
  var byId = function (id) { return document.getElementById(id); };
  var q = byId("f-search"), fsev = byId("f-severity"), fcode = byId("f-code");
  var fsite = byId("f-site"), fwaived = byId("f-waived");
  var body = byId("explorer-body"), shown = byId("explorer-shown"), note = byId("explorer-note");
  var nodes = Array.prototype.slice.call(document.querySelectorAll("details.node"));

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }

  function render() {
    var needle = q.value.trim().toLowerCase();
    var maxRank = fsev.value === "" ? sev.length : Number(fsev.value);
    var code = fcode.value, site = fsite.value, withWaived = fwaived.checked;
    var frag = document.createDocumentFragment();
    var n = 0;
    rows.forEach(function (x) {
      var r = x.r;
      if (r[0] > maxRank || (code && r[1] !== code) || (site && r[3] !== site) ||
          (!withWaived && r[8] === 1) || (needle && x.hay.indexOf(needle) < 0)) {
        return;
      }
      n += 1;
      if (n > LIMIT) { return; }
      var tr = document.createElement("tr");
      if (r[8] === 1) { tr.className = "waived"; }
      var s = document.createElement("span");
      s.className = "sev sev-" + sev[r[0]];
      s.textContent = sev[r[0]];
      cell(tr, "").appendChild(s);
      cell(tr, r[2], "node");
      cell(tr, r[3]);
      cell(tr, r[4], "pkg");
      cell(tr, r[5], "ver");
      cell(tr, r[1]);
      cell(tr, r[6]);
      cell(tr, r[7], "ver");
      cell(tr, r[8] === 1 ? "waived" : "");
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    shown.textContent = String(n);
    shown.setAttribute("data-count", String(n));
    note.textContent = n > LIMIT ? "(the first " + LIMIT + " are listed: narrow the filter)" : "";
    nodes.forEach(function (d) {
      d.hidden = Boolean((site && d.getAttribute("data-site") !== site) ||
        (needle && (d.getAttribute("data-search") || "").indexOf(needle) < 0));
    });
  }

  [q, fsev, fcode, fsite, fwaived].forEach(function (e) {
    e.addEventListener("input", render);
    e.addEventListener("change", render);
  });
  render();
  document.documentElement.setAttribute("data-nminus-ready", "1");
})();
