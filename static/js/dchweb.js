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
