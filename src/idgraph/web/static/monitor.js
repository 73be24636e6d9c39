/* idgraph web UI: a watch's alerts, live (server-sent events on the session cookie).
 * Every value from the server is put in the page as text (textContent), never as markup. */
(function () {
  "use strict";

  var HIDDEN_SUFFIXES = ["_phonetic", "_canon", "_parts"];

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
    if (className) {
      node.className = className;
    }
    return node;
  }

  var ISO = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d(\.\d+)?)?/;

  function shown(value) {
    // as the server's `value` filter: a midnight stamp is its day, a stamp is to the minute
    if (typeof value === "string") {
      var m = ISO.exec(value);
      if (m) {
        return /^T?00:00(:00(\.0+)?)?$/.test(m[2] + (m[3] || "")) ? m[1] : m[1] + " " + m[2] + " UTC";
      }
      return value;
    }
    if (typeof value === "boolean") {
      return value ? "yes" : "no";
    }
    if (Array.isArray(value)) {
      return value.map(shown).join(", ");
    }
    if (value !== null && typeof value === "object") {
      return JSON.stringify(value);
    }
    return value;
  }

  function hiddenKey(key, hidden) {
    if (hidden.indexOf(key) >= 0) {
      return true;
    }
    return HIDDEN_SUFFIXES.some(function (suffix) {
      return key.length > suffix.length && key.slice(-suffix.length) === suffix;
    });
  }

  function row(alert, hidden) {
    var tr = document.createElement("tr");
    tr.className = "alert-row arrived";
    tr.setAttribute("data-alert-id", String(alert.alert_id));
    tr.appendChild(text("td", shown(alert.raised_at)));
    tr.appendChild(text("td", alert.source));
    tr.appendChild(text("td", alert.kind));
    tr.appendChild(text("td", alert.record_id, "mono"));
    var cell = document.createElement("td");
    var pairs = document.createElement("dl");
    pairs.className = "pairs";
    var record = alert.record || {};
    Object.keys(record).forEach(function (key) {
      var value = record[key];
      if (hiddenKey(key, hidden) || value === null || value === "" ||
          (Array.isArray(value) && value.length === 0)) {
        return;
      }
      pairs.appendChild(text("dt", key));
      pairs.appendChild(text("dd", shown(value)));
    });
    cell.appendChild(pairs);
    tr.appendChild(cell);
    tr.appendChild(text("td", (alert.rules || []).join(", "), "mono"));
    return tr;
  }

  function say(message) {
    var region = document.getElementById("live-status");
    if (region) {
      region.textContent = message;
    }
  }

  function start(table) {
    var url = table.getAttribute("data-stream");
    var state = document.getElementById("stream-state");
    var hidden = (table.getAttribute("data-hidden-keys") || "").split(" ");
    var body = table.tBodies[0];
    function setState(value, message) {
      if (state) {
        state.setAttribute("data-state", value);
        state.textContent = message;
      }
    }
    if (!url || !window.EventSource) {
      setState("closed", "Live updates are not available in this browser: reload for new alerts.");
      return;
    }
    var source = new EventSource(url);
    source.addEventListener("open", function () {
      setState("open", "Live: new alerts appear here as they are raised.");
    });
    source.addEventListener("alert", function (event) {
      var alert;
      try {
        alert = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      var id = String(alert.alert_id);
      var seen = Array.prototype.some.call(body.rows, function (tr) {
        return tr.getAttribute("data-alert-id") === id;
      });
      if (seen) {
        return;
      }
      var empty = body.querySelector("tr.empty-row");
      if (empty) {
        empty.hidden = true;
      }
      body.insertBefore(row(alert, hidden), body.firstChild);
      say("New alert: a " + alert.kind + " record from " + alert.source + ".");
    });
    source.addEventListener("deconfliction", function (event) {
      var note;
      try {
        note = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      var table = document.getElementById("deconflictions");
      if (!table) {
        return;
      }
      var rows = table.tBodies[0];
      var id = String(note.notice_id);
      if (Array.prototype.some.call(rows.rows, function (tr) {
        return tr.getAttribute("data-notice-id") === id;
      })) {
        return;
      }
      var empty = rows.querySelector("tr.empty-row");
      if (empty) {
        empty.hidden = true;
      }
      var tr = document.createElement("tr");
      tr.className = "deconfliction-row arrived";
      tr.setAttribute("data-notice-id", id);
      tr.appendChild(text("td", shown(note.created_at)));
      tr.appendChild(text("td", note.other_org));
      tr.appendChild(text("td", note.other_owner));
      tr.appendChild(text("td", note.other_watch_id, "mono"));
      rows.insertBefore(tr, rows.firstChild);
      say("Another organisation (" + note.other_org + ") watches this person: contact " +
          note.other_owner + ".");
    });
    source.addEventListener("end", function () {
      source.close();
      setState("closed", "Your session has ended: log in again to see new alerts.");
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        setState("closed", "Live updates stopped: reload the page.");
      } else {
        setState("connecting", "Reconnecting…");
      }
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  function init() {
    var table = document.getElementById("alerts");
    if (table && table.getAttribute("data-stream")) {
      start(table);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
