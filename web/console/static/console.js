/* mailpoll console: progressive enhancement on top of plain forms (every page works without
   this file). Test Configuration streams its steps, Authenticate goes to the provider, and the
   Status page shows received events live. Server text is only ever set as textContent. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function csrf() {
    return document.body.getAttribute("data-csrf") || "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /* Server-sent events from a fetch response (EventSource cannot POST). */
  async function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
      var end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        var block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        var kind = "message", data = "";
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event: ") === 0) kind = line.slice(7);
          else if (line.indexOf("data: ") === 0) data += line.slice(6);
        });
        if (data) onEvent(kind, JSON.parse(data));
      }
    }
  }

  function stepItem(step) {
    var item = el("li", step.ok ? "ok" : "bad");
    var mark = el("span", "mark");
    mark.setAttribute("aria-hidden", "true");
    item.append(mark, el("span", "step", step.name), el("span", "verdict", step.ok ? "passed" : "failed"),
      el("span", "time", Number(step.seconds || 0).toFixed(2) + " s"), el("span", "detail", step.detail));
    if (step.hint) item.append(el("span", "hint", step.hint));
    return item;
  }

  async function testConfiguration(button) {
    var form = button.form;
    var results = document.getElementById("test-results");
    results.replaceChildren(el("h2", null, "Test Configuration"));
    results.classList.remove("empty");
    var steps = el("ol", "steps");
    var verdict = el("p", "message note", "Testing the values on screen…");
    results.append(steps, verdict);
    results.setAttribute("aria-busy", "true");
    results.scrollIntoView({ block: "start", behavior: "smooth" });
    button.disabled = true;
    var failed = null;
    try {
      var response = await fetch("/account-test", {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "Accept": "text/event-stream", "X-CSRF-Token": csrf() },
        credentials: "same-origin",
      });
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("text/event-stream") !== 0) {
        if (response.redirected) { window.location.assign(response.url); return; }
        throw new Error("the server answered " + response.status);
      }
      await readEvents(response, function (kind, data) {
        if (kind === "step") {
          steps.append(stepItem(data));
          if (!data.ok && failed === null) failed = data.name;
        } else if (kind === "done") {
          if (data.passed) {
            verdict.className = "message ok";
            verdict.textContent = "Every step passed. Remember to save the configuration after the test is successful.";
          } else {
            verdict.className = "message error";
            verdict.textContent = "The test failed" + (failed ? " at " + failed : "") + ". Nothing was saved.";
          }
        }
      });
    } catch (error) {
      verdict.className = "message error";
      verdict.textContent = "The test could not run: " + error.message + ".";
    } finally {
      results.removeAttribute("aria-busy");
      button.disabled = false;
    }
  }

  async function authenticate(button) {
    var name = button.getAttribute("data-authenticate");
    var messages = document.getElementById("messages");
    try {
      var response = await fetch("/api/accounts/" + encodeURIComponent(name) + "/oauth/authorize", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" },
        credentials: "same-origin",
      });
      var body = await response.json();
      if (!response.ok) throw new Error(body.detail || ("the server answered " + response.status));
      window.location.assign(body.authorize_url);
    } catch (error) {
      messages.replaceChildren(el("p", "message error", "Cannot authenticate " + name + ": " + error.message));
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    if (button.hasAttribute("data-test-config")) {
      event.preventDefault();
      testConfiguration(button);
    } else if (button.hasAttribute("data-authenticate")) {
      event.preventDefault();
      authenticate(button);
    }
  });

  function liveEvents() {
    var state = document.getElementById("live-state");
    var list = document.getElementById("live-events");
    if (!state || !list) return;
    var source = new EventSource(state.getAttribute("data-live"));
    source.addEventListener("ready", function () {
      state.textContent = "Listening: received messages appear here as they are announced.";
      state.setAttribute("data-ready", "true");
    });
    source.addEventListener("received", function (message) {
      var event = JSON.parse(message.data);
      var item = el("li");
      var time = el("time", "muted", (event.time || "").replace("T", " ").replace(/\.\d+/, ""));
      time.setAttribute("datetime", event.time || "");
      var what = el("span", "subject", event.subject || "(no subject)");
      var who = el("span", "muted", [event.account, event.where, event.from].filter(Boolean).join(" · "));
      item.append(time, what, who);
      list.prepend(item);
      while (list.children.length > 50) list.lastElementChild.remove();
    });
    source.addEventListener("unavailable", function (message) {
      state.textContent = "Live events are not available: " + JSON.parse(message.data).reason;
      state.removeAttribute("data-ready");
      source.close();
    });
    source.onerror = function () {
      state.removeAttribute("data-ready");
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", liveEvents);
  else liveEvents();
})();
