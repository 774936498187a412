// Landlord console: the inbox page's live updates and reply box helpers.
// An EventSource on the page's stream (cookie session) hears new messages,
// status changes and conversation changes; the page then fetches itself
// and replaces the list, the thread, its header and the contact panel,
// leaving the reply box (and what is being typed) alone. Without script
// the page works as plain forms and links.
(function () {
  "use strict";
  var root = document.getElementById("inbox");
  if (!root) {
    return;
  }
  var thread = document.getElementById("thread-messages");
  var status = document.getElementById("live-status");
  var parts = ["conversation-list", "thread-head", "thread-messages", "contact-panel", "reply-window"];

  function toBottom() {
    if (thread) {
      thread.scrollTop = thread.scrollHeight;
    }
  }
  toBottom();

  // Canned responses fill the reply box.
  var canned = root.querySelector("[data-canned]");
  var box = document.getElementById("text");
  if (canned && box) {
    canned.hidden = false;
    var select = canned.querySelector("select");
    select.addEventListener("change", function () {
      if (select.value) {
        box.value = select.value;
        box.focus();
        select.value = "";
      }
    });
  }

  var source = window.EventSource && root.getAttribute("data-stream");
  var url = root.getAttribute("data-refresh");
  if (!source || !url) {
    return;
  }
  var busy = false;
  var again = false;
  var timer = null;

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    var atBottom = !thread || thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) {
          return;
        }
        var next = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (id) {
          var now = document.getElementById(id);
          var fresh = next.getElementById(id);
          if (now && fresh && now.innerHTML !== fresh.innerHTML) {
            now.innerHTML = fresh.innerHTML;
          }
        });
        if (atBottom) {
          toBottom();
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  var events = new EventSource(source);
  ["message.created", "message.status", "conversation.created", "conversation.updated"].forEach(function (kind) {
    events.addEventListener(kind, soon);
  });
  // On every (re)connection the page fetches itself once: whatever
  // changed between its rendering and the stream's opening (a reply sent,
  // a status moved) was announced to nobody.
  events.addEventListener("open", function () {
    say("Live: new messages appear as they arrive.");
    soon();
  });
  events.addEventListener("error", function () {
    say("Reconnecting to live updates…");
  });
  window.addEventListener("pagehide", function () {
    events.close();
  });
})();
