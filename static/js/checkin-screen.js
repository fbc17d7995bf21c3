// The organizer's check-in page (projects/checkin_screen.html): reload the QR code when its 30-second step ends
// (the server says when: data-next-in, so the phone's own clock does not matter), then every step, and at once when
// the screen wakes up; the button shows or hides the 6-digit code; "以我现在的位置为签到点" sends the phone's position.
(function () {
  "use strict";
  var qr = document.getElementById("checkin-qr");
  if (qr) {
    var period = Number(qr.dataset.period) * 1000;
    var refresh = function () {
      qr.src = qr.dataset.src + "?r=" + Date.now();
    };
    window.setTimeout(function () {
      refresh();
      window.setInterval(refresh, period);
    }, Number(qr.dataset.nextIn) * 1000 + 500);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") {
        refresh();
      }
    });
  }
  var reveal = document.getElementById("reveal-code");
  if (reveal) {
    var code = document.getElementById(reveal.getAttribute("aria-controls"));
    reveal.addEventListener("click", function () {
      code.hidden = !code.hidden;
      reveal.setAttribute("aria-expanded", String(!code.hidden));
      reveal.textContent = code.hidden ? reveal.dataset.show : reveal.dataset.hide;
    });
  }
  var place = document.getElementById("checkin-place-form");
  if (place) {
    place.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.name === "clear") {
        return;
      }
      event.preventDefault();
      var error = document.getElementById("checkin-place-error");
      if (!navigator.geolocation) {
        error.textContent = place.dataset.error;
        return;
      }
      navigator.geolocation.getCurrentPosition(
        function (position) {
          place.elements.latitude.value = position.coords.latitude.toFixed(6);
          place.elements.longitude.value = position.coords.longitude.toFixed(6);
          place.submit();
        },
        function () {
          error.textContent = place.dataset.error;
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 }
      );
    });
  }
})();
