/* qa widget: an ask box for any web page, answered from the qa server's sources.
 *
 *   <script src="https://host/widget.js" data-qa-url="https://host"></script>
 *   <script src="https://host/widget.js" data-qa-target="#faq-box"></script>
 *
 * Renders inside a Shadow DOM so host-page styles and ours never mix. Every piece of
 * server data is put on the page with textContent on elements built one by one (never
 * innerHTML), and the answer is highlighted by its offsets, not by searching for it.
 * The qa server must list the host page's origin in cors_origins.
 *
 * It remembers the conversation (on this page only) and sends it with each question, so a
 * follow-up such as "When did it end?" is understood; the server keeps nothing between
 * questions. "Clear the conversation" starts a new one.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = (script.getAttribute("data-qa-url") || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var targetSel = script.getAttribute("data-qa-target");
  var NO_ANSWER = "The sources don't answer this.";
  var MAX_CHARS = 2000; // the server writes its limits.max_question_chars here when it serves this file
  var MAX_TURNS = 20;   // and its limits.max_history_turns here: earlier turns sent with a question
  var ANSWER_CHARS = 300; // an earlier answer is sent back cut to this many characters (enough to find it again)

  var CSS = [
    ":host { all: initial; display: block; font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;",
    "  color: #1f2937; }",
    ".box { border: 1px solid #e5e7eb; border-radius: 10px; padding: 12px; background: #fff; max-width: 640px; }",
    "form { display: flex; gap: 8px; }",
    "input { flex: 1; min-width: 0; font: inherit; padding: 8px 10px; border: 1px solid #cbd5e1; border-radius: 8px; }",
    "button { font: inherit; padding: 8px 14px; border: 0; border-radius: 8px; background: #f59e0b; color: #111827;",
    "  font-weight: 600; cursor: pointer; }",
    "button[disabled] { opacity: .6; cursor: progress; }",
    ".out { margin-top: 10px; overflow-wrap: anywhere; }",
    ".answer { font-size: 1.1em; font-weight: 600; margin: 0 0 4px; }",
    ".conf { display: inline-block; margin-left: 6px; font-size: .8em; padding: 0 8px; border-radius: 1em;",
    "  background: #fef3c7; color: #78350f; vertical-align: middle; }",
    ".note { color: #6b7280; font-size: .9em; margin: 4px 0; }",
    ".error { color: #b91c1c; }",
    "ol { padding-left: 1.4em; margin: 6px 0 0; }",
    "li { margin-bottom: 8px; }",
    ".title { font-weight: 600; color: #1d4ed8; text-decoration: none; }",
    ".title:hover, .original:hover { text-decoration: underline; }",
    ".original { font-size: .85em; color: #1d4ed8; text-decoration: none; }",
    ".quote { display: block; margin-top: 2px; padding-left: 8px; border-left: 3px solid #f59e0b; color: #374151; }",
    "mark { background: #fbbf24; color: #111827; padding: 0 2px; border-radius: 2px; }",
    ".sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }",
    ".conv { list-style: none; padding: 0; margin: 0 0 8px; font-size: .9em; color: #4b5563; }",
    ".conv li { margin: 0 0 4px; padding-left: 8px; border-left: 3px solid #e5e7eb; }",
    ".conv .q { font-weight: 600; color: #1f2937; }",
    ".understood { color: #6b7280; font-size: .9em; font-style: italic; margin: 0 0 4px; }",
    "button.clear { margin-top: 8px; padding: 4px 10px; font-size: .85em; font-weight: 400; background: #e5e7eb; }"
  ].join("\n");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function sourceUrl(id, start, end, aStart, aEnd) {
    var q = ["start=" + start, "end=" + end];
    if (typeof aStart === "number" && typeof aEnd === "number") q.push("answer_start=" + aStart, "answer_end=" + aEnd);
    return base + "/source/" + encodeURIComponent(id) + "?" + q.join("&") + "#hl";
  }

  // Rounded down, as the chat UI does: 0.998 never reads as a certain 100%, 0.299 never as a 30% threshold.
  function pct(c) { return Math.floor(Number(c) * 100 + 1e-9) + "%"; }

  function isInt(x) { return typeof x === "number" && Math.floor(x) === x; }

  // The quote with the answer in <mark>, cut at the answer's offsets (relative to the quote's start).
  // Offsets count characters (code points, as Python does); a JS string counts UTF-16 units, in which
  // an emoji is two, so the quote is cut as an array of code points.
  function quoteNode(c) {
    var q = el("span", "quote");
    var quote = String(c.quote);
    var chars = Array.from(quote);
    if (isInt(c.answer_start) && isInt(c.answer_end) && c.start <= c.answer_start &&
        c.answer_start < c.answer_end && c.answer_end <= c.end && c.end - c.start === chars.length) {
      var a = c.answer_start - c.start, b = c.answer_end - c.start;
      q.appendChild(document.createTextNode(chars.slice(0, a).join("")));
      q.appendChild(el("mark", null, chars.slice(a, b).join("")));
      q.appendChild(document.createTextNode(chars.slice(b).join("")));
    } else {
      q.textContent = quote;
    }
    return q;
  }

  function link(text, href) {
    var a = el("a", "title", text);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  // Only a plain http(s) URL from the server becomes a link to the original document.
  function httpUrl(url) {
    if (typeof url !== "string" || !/^https?:\/\/[^\s]+$/i.test(url)) return null;
    try {
      var u = new URL(url);
      return (u.protocol === "http:" || u.protocol === "https:") ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function pageLabel(item) {
    return isInt(item.page) ? " \u00b7 p. " + item.page : "";
  }

  function snippet(text, limit) {
    text = String(text);
    var chars = Array.from(text);  // code points: an emoji is never cut in half
    return chars.length <= limit ? text : chars.slice(0, limit).join("").replace(/\s+\S*$/, "") + "\u2026";
  }

  function cut(text, limit) {
    var chars = Array.from(String(text));  // code points, as the server counts
    return chars.length <= limit ? String(text) : chars.slice(0, limit).join("");
  }

  // "Understood as: ..." when the server read the question as another one (a follow-up).
  function understood(out, r, asked) {
    var s = r.standalone_question;
    if (typeof s === "string" && s && s.split(/\s+/).join(" ") !== asked.split(/\s+/).join(" ")) {
      out.appendChild(el("p", "understood", "Understood as: " + s));
    }
  }

  function render(out, r, asked) {
    out.textContent = "";
    understood(out, r, asked);
    if (r.abstained) {
      var p = el("p", "answer", NO_ANSWER);
      p.appendChild(el("span", "conf", pct(r.confidence)));
      out.appendChild(p);
      if (typeof r.reason === "string" && r.reason) out.appendChild(el("p", "note", "Why no answer: " + r.reason));
      var passages = (r.passages || []).slice(0, 3);
      if (passages.length) out.appendChild(el("p", "note", "Related, but not an answer:"));
      var rl = el("ol");
      passages.forEach(function (ps) {
        var li = el("li");
        li.appendChild(link(ps.title, sourceUrl(ps.source, ps.start, ps.end)));
        if (pageLabel(ps)) li.appendChild(el("span", "note", pageLabel(ps)));
        li.appendChild(el("span", "quote", snippet(ps.text, 240)));
        rl.appendChild(li);
      });
      if (passages.length) out.appendChild(rl);
      return;
    }
    var ans = el("p", "answer", r.answer);
    ans.appendChild(el("span", "conf", pct(r.confidence) + " confident"));
    out.appendChild(ans);
    if (typeof r.note === "string" && r.note) out.appendChild(el("p", "note", r.note));
    var ol = el("ol", "cites");
    (r.citations || []).forEach(function (c) {
      var li = el("li");
      li.appendChild(link(c.title, sourceUrl(c.source, c.start, c.end, c.answer_start, c.answer_end)));
      if (pageLabel(c)) li.appendChild(el("span", "note", pageLabel(c)));
      var original = httpUrl(c.url);
      if (original) {
        li.appendChild(document.createTextNode(" \u00b7 "));
        var o = link("original", original);
        o.className = "original";
        li.appendChild(o);
      }
      li.appendChild(quoteNode(c));
      ol.appendChild(li);
    });
    out.appendChild(ol);
  }

  function mount() {
    var host = el("div");
    host.className = "qa-widget";
    var target = targetSel ? document.querySelector(targetSel) : null;
    if (target) target.appendChild(host);
    else script.parentNode.insertBefore(host, script.nextSibling);
    var root = host.attachShadow({ mode: "open" });
    var style = el("style");
    style.textContent = CSS;
    root.appendChild(style);

    var box = el("div", "box");
    var form = el("form");
    var label = el("label", "sr", "Question");
    var input = el("input");
    input.type = "text";
    input.name = "question";
    input.placeholder = "Ask a question about the sources";
    input.maxLength = MAX_CHARS;
    input.id = "q";
    label.htmlFor = "q";
    var button = el("button", null, "Ask");
    button.type = "submit";
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(button);
    var out = el("div", "out");
    out.setAttribute("aria-live", "polite");
    var conv = el("ol", "conv");
    conv.setAttribute("aria-label", "Earlier in this conversation");
    box.appendChild(conv);
    box.appendChild(form);
    box.appendChild(out);
    root.appendChild(box);
    var turns = [];   // {question, answer} of this conversation, oldest first
    var clear = null; // the "Clear the conversation" button, there once a question was answered

    function showEarlier() {
      conv.textContent = "";
      turns.slice(0, -1).forEach(function (t) {
        var li = el("li");
        li.appendChild(el("span", "q", t.question));
        li.appendChild(document.createTextNode(" \u2014 " + (t.answer === null ? NO_ANSWER : snippet(t.answer, 120))));
        conv.appendChild(li);
      });
    }

    function remember(question, r) {
      turns.push({ question: question, answer: r.abstained ? null : cut(r.answer, ANSWER_CHARS) });
      turns = turns.slice(-MAX_TURNS);
      showEarlier();
      if (!clear) {
        clear = el("button", "clear", "Clear the conversation");
        clear.type = "button";
        clear.addEventListener("click", function () {
          turns = [];
          conv.textContent = "";
          out.textContent = "";
          clear.parentNode.removeChild(clear);
          clear = null;
          input.focus();
        });
        box.appendChild(clear);
      }
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var question = input.value.trim();
      if (!question) return;
      button.disabled = true;
      out.textContent = "";
      out.appendChild(el("p", "note", "Looking in the sources\u2026"));
      var body = { question: question };
      if (turns.length) body.history = turns.slice(-MAX_TURNS);
      fetch(base + "/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit"
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (!resp.ok) throw new Error(data.error || ("the server answered HTTP " + resp.status));
          return data;
        });
      }).then(function (data) {
        render(out, data, question);
        remember(question, data);
        input.value = "";
      }).catch(function (err) {
        out.textContent = "";
        var msg = err instanceof TypeError
          ? "Could not reach the answer service (is this page's origin allowed in its cors_origins?)"
          : String(err.message || err);
        out.appendChild(el("p", "error", msg));
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  if (targetSel && document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
