// The member's check-in page (projects/checkin.html): when the activity has a check-in place, ask the phone for its
// position and send it with the form; when the member does not allow it (or it takes too long) send the form
// without it — the server then marks the check-in 未提供位置.
(function () {
  "use strict";
  var form = document.querySelector("form[data-geolocate]");
  if (!form || !navigator.geolocation) {
    return;
  }
  var sending = false;
  form.addEventListener("submit", function (event) {
    if (sending) {
      return;
    }
    event.preventDefault();
    sending = true;
    var button = form.querySelector("[type=submit]");
    if (button) {
      button.disabled = true;
    }
    var send = function () {
      form.submit();
    };
    navigator.geolocation.getCurrentPosition(
      function (position) {
        form.elements.latitude.value = position.coords.latitude.toFixed(6);
        form.elements.longitude.value = position.coords.longitude.toFixed(6);
        send();
      },
      send,
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
    );
  });
})();
