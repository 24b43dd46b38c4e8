/*
 * Storyteller: small progressive enhancements. No dependencies, no inline
 * script (the Content-Security-Policy is script-src 'self'). Load with:
 *   <script src="{{ url_for('static', filename='js/app.js') }}" defer></script>
 *
 * data-confirm="Question?" on a <form>, or on a <button>/<input type=submit>
 * that submits one, asks before the form is sent; "Cancel" stops it.
 * On a link (<a data-confirm>), or a button outside any form (e.g. one
 * with hx-post), it asks on click.
 */
(function () {
  "use strict";

  function confirmed(element) {
    var message = element && element.getAttribute("data-confirm");
    return !message || window.confirm(message);
  }

  // Capture phase, so this runs before htmx or other listeners see the submit.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      var submitter = event.submitter;
      var asker = submitter && submitter.hasAttribute("data-confirm") ? submitter : form;
      if (!confirmed(asker)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );

  document.addEventListener(
    "click",
    function (event) {
      if (!(event.target instanceof Element)) return;
      var el = event.target.closest("a[data-confirm], button[data-confirm], input[data-confirm]");
      if (!el) return;
      // Submit buttons of a form are asked once, by the submit listener above.
      if (el.form && (el.type === "submit" || el.type === "image")) return;
      if (!confirmed(el)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );
})();
