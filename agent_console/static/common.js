/* Shared by the console, the wallboard and the simulator: CSRF-carrying JSON calls, the event
   stream, texts from the catalogs, and DOM helpers that never parse data as HTML. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var textsNode = document.getElementById("ui-text");
  var texts = textsNode ? JSON.parse(textsNode.textContent) : {};

  function api(method, url, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (raw) {
        var data = {};
        try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = {}; }
        if (response.status === 401) {
          // Signed out or session ended: reloading the page takes the browser to the sign-in
          // page and takes the callers' data off the screen.
          window.location.reload();
        }
        if (!response.ok) {
          var error = new Error(data.message || response.statusText);
          error.errorId = data.error_id || "http_" + response.status;
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function stream(onMessage, onStatus) {
    var source = new EventSource("/console/events");
    source.onopen = function () { onStatus("open"); };
    source.onerror = function () {
      onStatus("reconnecting");
      // EventSource gives up after an error answer (503 while the server cannot check the
      // session): open a new one a little later.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(function () { stream(onMessage, onStatus); }, 5000);
      }
    };
    source.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.kind === "session_ended") { source.close(); window.location.reload(); return; }
      onMessage(data);
    };
    return source;
  }

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (attrs) {
      Object.keys(attrs).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    }
    return node;
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node) { node.textContent = text === undefined || text === null ? "—" : String(text); }
  }

  function row(cells, attrs) {
    var tr = el("tr", null, attrs);
    cells.forEach(function (cell) {
      var td = el("td", cell === null || cell === undefined ? "—" : cell);
      tr.appendChild(td);
    });
    return tr;
  }

  function fill(id, nodes) {
    var parent = document.getElementById(id);
    if (!parent) { return; }
    while (parent.firstChild) { parent.removeChild(parent.firstChild); }
    nodes.forEach(function (node) { parent.appendChild(node); });
  }

  function when(iso) {
    if (!iso) { return "—"; }
    var date = new Date(iso);
    return date.toLocaleString(document.documentElement.lang || undefined,
      { dateStyle: "short", timeStyle: "short" });
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  var pageLanguage = document.documentElement.lang || undefined;
  var languageNames = window.Intl && Intl.DisplayNames
    ? new Intl.DisplayNames([pageLanguage || "en"], { type: "language" }) : null;

  // "es" -> "español" in the page's language (the code itself when the browser cannot say).
  function languageName(code) {
    try { return (languageNames && languageNames.of(code)) || code; } catch (e) { return code; }
  }

  // 0 (Monday, as the server counts) -> "lun." in the page's language.
  function weekdayName(day) {
    var monday = Date.UTC(2024, 0, 1);
    return new Date(monday + Number(day) * 86400000).toLocaleDateString(pageLanguage,
      { weekday: "short", timeZone: "UTC" });
  }

  function typing(event) {
    var target = event.target;
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  var language = document.getElementById("ui-language");
  if (language) {
    language.addEventListener("change", function () { language.form.submit(); });
  }

  window.Amparo = {
    csrf: csrf, api: api, stream: stream, el: el, setText: setText, row: row, fill: fill,
    when: when, duration: duration, typing: typing, languageName: languageName,
    weekdayName: weekdayName,
    t: function (id) { return texts[id] || id; },
  };
})();
