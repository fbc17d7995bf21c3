// The export page's 全选 box (members/templates/admin/members/member_export.html) ticks or clears every field,
// through django-import-export's own function; an inline onchange would be blocked by the Content-Security-Policy.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var toggle = document.getElementById("select-all-toggle");
  if (toggle && typeof onSelectToggleChange === "function") {
    toggle.addEventListener("change", onSelectToggleChange);
  }
});
