/* dchweb: times in the viewer's own time zone.

   The server renders every time as <time datetime="ISO" data-when="STYLE">
   with its UTC text (hosts/templatetags/time_tags.py). This rewrites each one
   in the browser's zone, the zone named ("2026-12-02 08:10 CET"), and an
   expiry (data-when="relative") as "in 7 h 55 min" with the time itself on
   hover. It runs on the page and on every piece htmx swaps in (htmx:load
   fires for both), and refreshes the relative ones every half minute. */
(function () {
  "use strict";

  const MINUTE = 60;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;
  const REFRESH_MS = 30 * 1000;

  function pad(number) {
    return String(number).padStart(2, "0");
  }

  // The parts of `date` in the browser's zone, by name: year, month, day,
  // hour, minute, second, timeZoneName.
  function partsOf(date) {
    const format = new Intl.DateTimeFormat(undefined, {
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      hourCycle: "h23",
      timeZoneName: "short",
    });
    const parts = {};
    format.formatToParts(date).forEach(function (part) {
      parts[part.type] = part.value;
    });
    return parts;
  }

  function dateText(parts) {
    return parts.year + "-" + pad(parts.month) + "-" + pad(parts.day);
  }

  function absoluteText(date, withSeconds) {
    const parts = partsOf(date);
    let clock = pad(parts.hour) + ":" + pad(parts.minute);
    if (withSeconds) {
      clock += ":" + pad(parts.second);
    }
    return dateText(parts) + " " + clock + " " + parts.timeZoneName;
  }

  // Words as the server's fallback says them: the two largest units.
  function spanWords(seconds) {
    if (seconds < MINUTE) {
      return null;
    }
    const days = Math.floor(seconds / DAY);
    const hours = Math.floor((seconds % DAY) / HOUR);
    const minutes = Math.floor((seconds % HOUR) / MINUTE);
    if (days) {
      return hours ? days + " d " + hours + " h" : days + " d";
    }
    if (hours) {
      return minutes ? hours + " h " + minutes + " min" : hours + " h";
    }
    return minutes + " min";
  }

  function relativeText(date) {
    const seconds = Math.trunc((date.getTime() - Date.now()) / 1000);
    const span = spanWords(Math.abs(seconds));
    if (span === null) {
      return "now";
    }
    return seconds > 0 ? "in " + span : span + " ago";
  }

  // A <time> rendered before the tag existed says its style by its text:
  // "2026-12-02", "2026-12-02 07:10" or "2026-12-02 07:10:42". Any other
  // text ("5 minutes ago") is left as it is.
  function styleOf(element) {
    if (element.dataset.when) {
      return element.dataset.when;
    }
    const text = element.textContent.trim();
    if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/.test(text)) {
      return "seconds";
    }
    if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(text)) {
      return "minutes";
    }
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
      return "date";
    }
    return null;
  }

  function localize(element) {
    const date = new Date(element.getAttribute("datetime"));
    const style = styleOf(element);
    if (isNaN(date.getTime()) || !style) {
      return;
    }
    element.dataset.when = style;
    if (style === "relative") {
      element.textContent = relativeText(date);
      element.title = absoluteText(date, false);
    } else if (style === "date") {
      element.textContent = dateText(partsOf(date));
      element.title = absoluteText(date, false);
    } else {
      element.textContent = absoluteText(date, style === "seconds");
      element.title = absoluteText(date, true);
    }
    element.dataset.localized = "true";
  }

  function localizeWithin(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    if (root.matches && root.matches("time[datetime]")) {
      localize(root);
    }
    root.querySelectorAll("time[datetime]").forEach(localize);
  }

  document.addEventListener("htmx:load", function (event) {
    localizeWithin(event.target);
  });
  // Without htmx (or before it starts) the page is rewritten all the same.
  localizeWithin(document);
  setInterval(function () {
    document.querySelectorAll('time[data-when="relative"]').forEach(localize);
  }, REFRESH_MS);
})();
