// A grid list (<select data-grids-of="id of the community list">) offers the grids of the chosen community only.
// Its options carry data-community and data-name (demands.forms.GridSelect); without this script the list shows
// every grid as "社区 · 网格" and the server refuses a grid of another community.
(function () {
  "use strict";
  document.querySelectorAll("select[data-grids-of]").forEach(function (grid) {
    var community = document.getElementById(grid.getAttribute("data-grids-of"));
    if (!community) {
      return;
    }
    var options = Array.prototype.slice.call(grid.options);
    options.forEach(function (option) {
      var name = option.getAttribute("data-name");
      if (name) {
        option.textContent = name;
      }
    });
    function follow() {
      var chosen = community.value;
      var kept = grid.value;
      while (grid.firstChild) {
        grid.removeChild(grid.firstChild);
      }
      options.forEach(function (option) {
        if (!option.value || (chosen && option.getAttribute("data-community") === chosen)) {
          grid.appendChild(option);
        }
      });
      grid.value = Array.prototype.some.call(grid.options, function (option) {
        return option.value === kept;
      })
        ? kept
        : "";
    }
    community.addEventListener("change", follow);
    follow();
  });
})();
