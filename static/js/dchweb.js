/* dchweb: the pages' only script of their own; no inline code anywhere, so the
   Content-Security-Policy can forbid it (script-src 'self', no eval).

   htmx swaps no 4xx answer by default. A form that answers a refused request
   with itself (the reason beside the field) names the statuses it expects on
   the element it replaces, e.g. <div id="endpoint-create" data-swap-statuses="400">;
   htmx fires htmx:beforeSwap on that element, and this lets those statuses
   swap in like a success. Every other error status stays unswapped. */
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    const holder = event.target.closest && event.target.closest("[data-swap-statuses]");
    if (!holder) {
      return;
    }
    const allowed = holder.dataset.swapStatuses.split(/\s+/).filter(Boolean);
    if (allowed.includes(String(event.detail.xhr.status))) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();

/* Copy buttons: <button data-copy="ID"> copies the text of the element ID
   (a command on a build host's page). The clipboard API needs a secure
   context (https, or localhost); elsewhere the text is selected, so that
   Ctrl+C copies it. Delegated: the status fragment that holds the buttons is
   swapped while the host changes. */
(function () {
  "use strict";

  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) {
      return;
    }
    const source = document.getElementById(button.dataset.copy);
    if (!source) {
      return;
    }
    if (!navigator.clipboard || !window.isSecureContext) {
      selectText(source);
      button.textContent = "Selected: press Ctrl+C";
      return;
    }
    navigator.clipboard.writeText(source.textContent).then(
      function () {
        button.textContent = "Copied";
      },
      function () {
        selectText(source);
        button.textContent = "Selected: press Ctrl+C";
      }
    );
  });
})();

/* --- One submission at a time (issue 15) -------------------------------------
   A form being sent is not sent again: a second submit (a double click, Enter
   pressed twice) is dropped, and the form's buttons are disabled until the
   answer comes (an htmx form: until its request ends; a plain POST: until
   the next page, or the same page back from the browser's cache). After a
   POST that succeeded, the submission key it sent is renewed wherever it
   still stands on the page, so sending that form again is a new submission;
   the server makes one object of two POSTs with one key (hosts/web/submissions.py). */
(function () {
  "use strict";

  const KEY_FIELD = "submission_key";
  const BUTTONS = "button[type=submit], button:not([type]), input[type=submit]";

  function formOf(element) {
    return element && element.closest ? element.closest("form") : null;
  }

  function setSending(form, sending) {
    if (sending) {
      form.dataset.sending = "1";
      form.setAttribute("aria-busy", "true");
    } else {
      delete form.dataset.sending;
      form.removeAttribute("aria-busy");
    }
    form.querySelectorAll(BUTTONS).forEach(function (button) {
      if (sending && !button.disabled) {
        button.disabled = true;
        button.dataset.disabledWhileSending = "1";
      } else if (!sending && button.dataset.disabledWhileSending) {
        button.disabled = false;
        delete button.dataset.disabledWhileSending;
      }
    });
  }

  function newKey() {
    const bytes = new Uint8Array(18);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, function (byte) {
      return byte.toString(16).padStart(2, "0");
    }).join("");
  }

  function renewKey(sent) {
    if (!sent) {
      return;
    }
    document.querySelectorAll("input[name=" + KEY_FIELD + "]").forEach(function (input) {
      if (input.value === sent) {
        input.value = newKey();
      }
    });
  }

  function sends(detail) {
    const verb = detail.requestConfig && detail.requestConfig.verb;
    return Boolean(verb) && verb.toLowerCase() !== "get";
  }

  // Capture: before htmx's own handler on the form sees the second submit.
  document.addEventListener("submit", function (event) {
    if (event.target.dataset && event.target.dataset.sending) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // A plain POST on its way (htmx cancels the submits it sends itself).
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post") {
      return;
    }
    form.dataset.sending = "1";
    // Later, not now: a submit button disabled now would leave the form's data.
    window.setTimeout(function () {
      setSending(form, true);
    }, 0);
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    const form = formOf(event.detail.elt);
    if (form && sends(event.detail)) {
      setSending(form, true);
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const form = formOf(event.detail.elt);
    if (!form || !form.dataset.sending) {
      return;
    }
    setSending(form, false);
    const parameters = event.detail.requestConfig && event.detail.requestConfig.parameters;
    if (event.detail.successful && parameters && parameters.get) {
      renewKey(parameters.get(KEY_FIELD));
    }
  });

  // Back to a page kept in the browser's cache: its forms can be sent again,
  // each as a new submission.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      setSending(form, false);
    });
    document.querySelectorAll("input[name=" + KEY_FIELD + "]").forEach(function (input) {
      input.value = newKey();
    });
  });
})();

/* --- Boxes that scroll sideways take the keyboard focus (issue 15) ------------
   On a narrow screen a wide table, a command or a log scrolls inside its own
   box (static/css/dchweb.css). A box that scrolls and holds nothing focusable
   gets tabindex="0", so arrow keys scroll it too (axe:
   scrollable-region-focusable); one that no longer scrolls loses it again.
   Checked on the page, on every piece htmx swaps in, and when the window
   changes size. */
(function () {
  "use strict";

  const BOXES = "main table, main pre, main .table-box";
  const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

  function scrollsSideways(element) {
    const overflow = getComputedStyle(element).overflowX;
    return (overflow === "auto" || overflow === "scroll") &&
      element.scrollWidth > element.clientWidth;
  }

  function markScrollingBoxes() {
    document.querySelectorAll(BOXES).forEach(function (box) {
      const ours = box.dataset.scrollFocus === "1";
      if (scrollsSideways(box)) {
        if (!ours && !box.hasAttribute("tabindex") && !box.querySelector(FOCUSABLE)) {
          box.setAttribute("tabindex", "0");
          box.dataset.scrollFocus = "1";
        }
      } else if (ours) {
        box.removeAttribute("tabindex");
        delete box.dataset.scrollFocus;
      }
    });
  }

  let pending = null;
  function markSoon() {
    if (pending === null) {
      pending = window.requestAnimationFrame(function () {
        pending = null;
        markScrollingBoxes();
      });
    }
  }

  document.addEventListener("htmx:load", markSoon);
  window.addEventListener("resize", markSoon);
  // A deferred script runs after the stylesheets it follows have loaded:
  // the boxes' sizes are known now, before the page says it is loaded.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", markScrollingBoxes);
  } else {
    markScrollingBoxes();
  }
})();
