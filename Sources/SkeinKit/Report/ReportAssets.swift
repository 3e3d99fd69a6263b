/// The style and script every report carries inline (a report must open from `file://`
/// with no network: no fonts, no libraries).
enum ReportAssets {
    static let css = #"""
:root{--bg:#fbfbfa;--fg:#1d1f23;--muted:#5d6470;--line:#d9dce1;--card:#fff;--code:#f3f4f6;
--ok:#1a7f37;--ok-bg:#e6f4ea;--bad:#b3261e;--bad-bg:#fde8e7;--warn:#8a5a00;--warn-bg:#fff4d6;--skip:#5d6470;--skip-bg:#eef0f3;
--bar:#2f6fde;--bar-retry:#d97706;--bar-cache:#9aa3ae;--bar-fail:#c62828;--bar-tool:#7b3fc4;--accent:#2f6fde;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#15171a;--fg:#e6e8eb;--muted:#9aa3ae;--line:#2e333a;--card:#1c1f23;--code:#23272d;
--ok:#5cc879;--ok-bg:#15321f;--bad:#ff8a80;--bad-bg:#3b1a18;--warn:#f2c14e;--warn-bg:#362a0c;--skip:#9aa3ae;--skip-bg:#262a30;
--bar:#5b93f0;--bar-retry:#f0a33a;--bar-cache:#6b737e;--bar-fail:#ff6b60;--bar-tool:#b18cf0;--accent:#7aa7f5}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg)}
header.run,main,nav.sections{max-width:1280px;margin:0 auto;padding:0 24px}
header.run{padding-top:24px}
.eyebrow{margin:0;color:var(--muted);font-size:13px;text-transform:uppercase;letter-spacing:.06em}
h1{margin:2px 0 4px;font-size:26px;line-height:1.25;word-break:break-word}
h2{font-size:19px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:0}
.muted{color:var(--muted)}.small{font-size:13px}.path{margin:0 0 6px;font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:13px}
.status-line{margin:8px 0}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-weight:600;font-size:13px;border:1px solid currentColor;white-space:nowrap}
.badge.ok{color:var(--ok);background:var(--ok-bg)}.badge.bad{color:var(--bad);background:var(--bad-bg)}
.badge.warn{color:var(--warn);background:var(--warn-bg)}.badge.skip{color:var(--skip);background:var(--skip-bg)}
.badge.plain{color:var(--muted);background:transparent;font-weight:500}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:8px 20px;margin:12px 0 0}
dl.facts div{min-width:0}dt{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}dd{margin:0;font-weight:600;word-break:break-word}
nav.sections{position:sticky;top:0;z-index:5;background:var(--bg);border-bottom:1px solid var(--line);display:flex;gap:18px;padding-top:10px;padding-bottom:10px;margin-top:16px;overflow-x:auto}
nav.sections a{color:var(--accent);text-decoration:none;font-weight:600;white-space:nowrap}nav.sections a:hover{text-decoration:underline}
.note{background:var(--warn-bg);color:var(--fg);border-left:4px solid var(--warn);padding:6px 10px;border-radius:4px}
.graph-scroll{overflow-x:auto;border:1px solid var(--line);border-radius:8px;background:var(--card);padding:6px}
svg.graph .edge{fill:none;stroke:var(--muted);stroke-width:1.4}svg.graph .edge.critical{stroke:var(--fg);stroke-width:2.6}
svg.graph .arrowhead{fill:var(--muted)}
svg.graph .node rect{fill:var(--card);stroke:var(--line);stroke-width:1.5}
svg.graph .node.ok rect{fill:var(--ok-bg);stroke:var(--ok)}svg.graph .node.bad rect{fill:var(--bad-bg);stroke:var(--bad);stroke-dasharray:6 3}
svg.graph .node.skip rect{fill:var(--skip-bg);stroke:var(--skip);stroke-dasharray:2 3}svg.graph .node.warn rect{fill:var(--warn-bg);stroke:var(--warn)}
svg.graph .node.critical rect{stroke-width:3}
svg.graph text{fill:var(--fg);font-size:14px}svg.graph text.name{font-weight:650}svg.graph text.sub{fill:var(--muted);font-size:12px}
svg.graph a:hover rect,svg.graph a:focus rect{stroke:var(--accent);stroke-width:3}
.legend{font-size:13px;color:var(--muted);display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center}
.key{display:inline-block;width:22px;height:10px;border-radius:2px;vertical-align:middle;margin-right:4px}
.key.ok{background:var(--bar)}.key.retried{background:repeating-linear-gradient(90deg,var(--bar-retry) 0 5px,transparent 5px 7px)}
.key.cached{border:1.5px dashed var(--bar-cache)}.key.failed{background:repeating-linear-gradient(45deg,var(--bar-fail) 0 3px,transparent 3px 6px);border:1px solid var(--bar-fail)}
.key.tool{background:var(--bar-tool);height:6px;border-radius:3px}
.key.queued{height:0;border-top:2px dotted var(--muted);border-radius:0}.key.first-byte{width:2px;height:12px;background:var(--fg);border-radius:0}
.hint{margin-left:auto}
.timeline{overflow-x:auto;border:1px solid var(--line);border-radius:8px;background:var(--card)}
.timeline svg{display:block}.timeline text{fill:var(--fg);font-size:12px}.timeline .axis text{fill:var(--muted);font-size:11px}
.timeline .grid{stroke:var(--line)}.timeline .lane-sep{stroke:var(--line);stroke-dasharray:2 3}
.timeline rect.ok{fill:var(--bar)}.timeline rect.retried{fill:url(#p-retry);stroke:var(--bar-retry)}
.timeline rect.cached{fill:none;stroke:var(--bar-cache);stroke-dasharray:3 2}.timeline rect.failed{fill:url(#p-fail);stroke:var(--bar-fail)}
.timeline line.queued{stroke:var(--muted);stroke-width:2;stroke-dasharray:1 2}.timeline line.first-byte{stroke:var(--fg);stroke-width:1.5}
.timeline rect.tool{fill:var(--bar-tool)}.timeline .pattern-retry{fill:var(--bar-retry)}.timeline .pattern-fail{fill:var(--bar-fail)}.timeline rect:hover{stroke:var(--fg);stroke-width:2;cursor:pointer}
.tooltip{position:fixed;z-index:20;max-width:420px;background:var(--fg);color:var(--bg);padding:6px 9px;border-radius:6px;font-size:13px;pointer-events:none;white-space:pre-wrap}
.step{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:0 0 14px;scroll-margin-top:56px}
.step.bad{border-left:5px solid var(--bad)}.step.ok{border-left:5px solid var(--ok)}.step.skip{border-left:5px solid var(--skip)}.step.warn{border-left:5px solid var(--warn)}
.step-head{display:flex;flex-wrap:wrap;gap:6px 12px;align-items:baseline}
.step-head .meta{color:var(--muted);font-size:13px}
.failure{background:var(--bad-bg);border-left:4px solid var(--bad);padding:8px 10px;border-radius:4px;margin:8px 0;white-space:pre-wrap;word-break:break-word}
.failure b{color:var(--bad)}
.label{font-size:12px;font-weight:700;color:var(--muted);text-transform:uppercase;letter-spacing:.05em;margin:10px 0 3px}
pre{margin:0;background:var(--code);padding:8px 10px;border-radius:6px;white-space:pre-wrap;word-break:break-word;font:13px/1.45 ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;max-height:none}
button{font:inherit;font-size:13px;color:var(--accent);background:none;border:1px solid var(--line);border-radius:6px;padding:2px 10px;cursor:pointer;margin-top:4px}
button:hover{border-color:var(--accent)}
details.item{border-top:1px solid var(--line)}details.item:first-child{border-top:none}
details.item>summary{cursor:pointer;padding:7px 2px;display:flex;gap:10px;align-items:baseline;list-style:none}
details.item>summary::-webkit-details-marker{display:none}
details.item>summary::before{content:"▸";color:var(--muted);width:1em;flex:none}details.item[open]>summary::before{content:"▾"}
details.item>summary .which{font-weight:650;white-space:nowrap;min-width:5.5em}
details.item>summary .preview{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:var(--fg)}
details.item>summary .nums{color:var(--muted);font-size:13px;white-space:nowrap}
details.item .body{padding:0 0 12px 1.6em}
.items{margin-top:10px;border:1px solid var(--line);border-radius:8px;padding:0 10px}
.request-head{font-size:13px;color:var(--muted);margin:12px 0 2px;font-weight:600}
.role{display:inline-block;font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin:6px 0 2px}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}
.chip{font-size:12px;border:1px solid var(--line);border-radius:999px;padding:0 8px;color:var(--muted)}
.sentinel{height:1px}
.filters{display:flex;flex-wrap:wrap;gap:10px 18px;align-items:center;margin-bottom:10px}
.filters input[type=search]{font:inherit;padding:3px 8px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg);min-width:240px}
.filters select{font:inherit;background:var(--card);color:var(--fg);border:1px solid var(--line);border-radius:6px}
.matrix-scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;background:var(--card)}
th,td{border:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top;font-size:14px}
th{background:var(--code);font-weight:650}
td.cell{cursor:pointer;min-width:160px}td.cell.ok{background:var(--ok-bg)}td.cell.bad{background:var(--bad-bg)}
td.cell .mark{font-weight:700}td.cell.ok .mark{color:var(--ok)}td.cell.bad .mark{color:var(--bad)}
td.cell .why{display:block;font-size:12px;color:var(--fg);word-break:break-word}
tr.verdicts td{background:var(--card)}
ul.verdicts{margin:0;padding-left:0;list-style:none}ul.verdicts li{margin:3px 0;word-break:break-word}
ul.verdicts .ok{color:var(--ok);font-weight:700}ul.verdicts .bad{color:var(--bad);font-weight:700}
.diff{display:grid;grid-template-columns:1fr 1fr;border:1px solid var(--line);border-radius:6px;overflow:hidden;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace}
.diff div{padding:0 8px;white-space:pre-wrap;word-break:break-word;min-height:1.45em;border-bottom:1px solid transparent}
.diff .del{background:var(--bad-bg)}.diff .ins{background:var(--ok-bg)}.diff .head{background:var(--code);font-weight:700;font-family:system-ui,sans-serif}
.diff .del::before{content:"− ";color:var(--bad);font-weight:700}.diff .ins::before{content:"+ ";color:var(--ok);font-weight:700}
@media (max-width:720px){header.run,main,nav.sections{padding-left:12px;padding-right:12px}h1{font-size:21px}
details.item>summary{flex-wrap:wrap}details.item>summary .preview{flex-basis:100%;order:3}.hint{margin-left:0}
.diff{grid-template-columns:1fr}.filters input[type=search]{min-width:0;width:100%}}
@media print{nav.sections{position:static}}
"""#

    static let javaScript = #"""
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const PAGE = 50, PREVIEW = 2000;

  // Every piece of data goes in as a text node: nothing here parses markup.
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const key in attributes || {}) {
      if (key === "text") node.textContent = attributes[key];
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), attributes[key]);
      else node.setAttribute(key, attributes[key]);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  const svgNS = "http://www.w3.org/2000/svg";
  function svg(tag, attributes) {
    const node = document.createElementNS(svgNS, tag);
    for (const key in attributes || {}) node.setAttribute(key, attributes[key]);
    return node;
  }
  function mark(status) {
    switch (status) {
      case "succeeded": case "finished": case "pass": return ["✓", status, "ok"];
      case "failed": case "fail": case "killed": return ["✗", status, "bad"];
      case "skipped": return ["⊘", status, "skip"];
      case "not_run": return ["–", "not run", "skip"];
      default: return ["■", status, "warn"];
    }
  }
  function badge(status) { const m = mark(status); return el("span", { class: "badge " + m[2], text: m[0] + " " + m[1] }); }
  function seconds(value) {
    if (value < 1) return Math.round(value * 1000) + " ms";
    if (value < 120) return value.toFixed(1) + " s";
    return Math.floor(value / 60) + "m " + String(Math.floor(value % 60)).padStart(2, "0") + "s";
  }
  function money(value) { return value === 0 ? "$0" : value < 0.0001 ? "$" + value.toFixed(6) : value < 0.01 ? "$" + value.toFixed(4) : "$" + value.toFixed(2); }
  // A long text: the first PREVIEW characters, and a button for the rest.
  function block(text, cls) {
    const pre = el("pre", cls ? { class: cls } : {});
    if (text.length <= PREVIEW) { pre.textContent = text; return pre; }
    pre.textContent = text.slice(0, PREVIEW) + " …";
    const button = el("button", { type: "button", text: "show all (" + text.length.toLocaleString() + " characters)" });
    let all = false;
    button.addEventListener("click", () => {
      all = !all;
      pre.textContent = all ? text : text.slice(0, PREVIEW) + " …";
      button.textContent = all ? "show less" : "show all (" + text.length.toLocaleString() + " characters)";
    });
    return el("div", {}, pre, button);
  }
  // Appends rows PAGE at a time as the end of the list scrolls into view.
  function lazyList(container, count, render) {
    let shown = 0;
    const sentinel = el("div", { class: "sentinel" });
    const more = el("button", { type: "button" });
    function next() {
      const end = Math.min(count, shown + PAGE);
      const fragment = document.createDocumentFragment();
      for (; shown < end; shown++) fragment.append(render(shown));
      container.insertBefore(fragment, sentinel);
      if (shown >= count) { more.remove(); observer.disconnect(); }
      else more.textContent = "show more (" + (count - shown).toLocaleString() + " left)";
    }
    const observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) next(); }, { rootMargin: "600px" });
    more.addEventListener("click", next);
    container.append(sentinel, more);
    next();
    if (shown < count) observer.observe(sentinel);
    return { showUntil(index) { while (shown <= index && shown < count) next(); } };
  }

  // Requests and tool runs by conversation: step, dataset row, for_each item.
  const conversationKey = (s, r, i) => s + "\u0000" + r + "\u0000" + (i === null || i === undefined ? "-" : i);
  const conversations = new Map();
  data.requests.forEach((request, index) => {
    const key = conversationKey(request.s, request.r, request.i);
    if (!conversations.has(key)) conversations.set(key, { s: request.s, r: request.r, i: request.i, requests: [], tools: [] });
    conversations.get(key).requests.push(index);
  });
  data.tools.forEach((tool, index) => {
    const key = conversationKey(tool.s, tool.r, tool.i);
    if (!conversations.has(key)) conversations.set(key, { s: tool.s, r: tool.r, i: tool.i, requests: [], tools: [] });
    conversations.get(key).tools.push(index);
  });
  const rowsByStep = new Map();
  for (const row of data.rows) {
    if (!rowsByStep.has(row.s)) rowsByStep.set(row.s, []);
    rowsByStep.get(row.s).push(row);
  }
  const stepRow = new Map(data.rows.map((row) => [row.s + "\u0000" + row.r, row]));

  // ── Steps ──
  const openers = new Map();   // conversation key → function that shows and opens it
  function entriesOf(step) {
    const rows = rowsByStep.get(step) || [];
    const entries = [];
    const withConversation = new Set();
    for (const conversation of conversations.values()) {
      if (conversation.s !== step) continue;
      entries.push({ conversation, row: stepRow.get(step + "\u0000" + conversation.r) });
      withConversation.add(conversation.r);
    }
    for (const row of rows) if (!withConversation.has(row.r)) entries.push({ conversation: null, row });
    entries.sort((a, b) => {
      const ra = a.conversation ? a.conversation.r : a.row.r, rb = b.conversation ? b.conversation.r : b.row.r;
      if (ra !== rb) return ra - rb;
      const ia = a.conversation && a.conversation.i !== null ? a.conversation.i : -1;
      const ib = b.conversation && b.conversation.i !== null ? b.conversation.i : -1;
      return ia - ib;
    });
    return entries;
  }
  function entryStatus(entry) {
    if (entry.conversation) {
      const requests = entry.conversation.requests.map((i) => data.requests[i]);
      if (requests.some((r) => r.e)) return "failed";
      if (entry.row && entry.row.st !== "finished" && entry.conversation.i === null) return entry.row.st;
      return "finished";
    }
    return entry.row ? entry.row.st : "not_run";
  }
  function entryLabel(entry) {
    const c = entry.conversation, r = c ? c.r : entry.row.r, i = c ? c.i : null;
    const parts = [];
    if (r !== 0) parts.push("row " + r);
    if (i !== null && i !== undefined) parts.push("item " + i);
    return parts.length ? parts.join(" · ") : (c ? "request" : "step");
  }
  function renderEntry(entry) {
    const status = entryStatus(entry), m = mark(status);
    const requests = entry.conversation ? entry.conversation.requests.map((i) => data.requests[i]) : [];
    const last = requests[requests.length - 1];
    let preview = "";
    if (last && last.e) preview = "✗ " + last.e;
    else if (last && last.reply !== undefined) preview = last.reply;
    else if (last && last.calls) preview = "calls " + last.calls.map((c) => c[0]).join(", ");
    else if (entry.row && entry.row.msg) preview = entry.row.msg;
    else if (entry.row && entry.row.out !== undefined) preview = entry.row.out;
    let duration = 0, cost = 0, priced = true, tokensIn = 0, tokensOut = 0, attempts = 0, cached = 0;
    for (const r of requests) {
      duration += r.d; attempts += r.a; if (r.h) cached++;
      if (r.c === undefined) priced = false; else cost += r.c;
      if (r.u) { tokensIn += r.u[0] || 0; tokensOut += r.u[1]; }
    }
    if (!requests.length && entry.row) duration = entry.row.d;
    const nums = [seconds(duration)];
    if (requests.length) {
      nums.push(tokensIn + "→" + tokensOut + " tok");
      nums.push(priced ? money(cost) : "cost ?");
      if (requests.length > 1) nums.push(requests.length + " requests");
      if (attempts > requests.length) nums.push("↻ " + (attempts - requests.length) + " retries");
      if (cached) nums.push("◌ from the store");
    }
    const details = el("details", { class: "item " + m[2] },
      el("summary", {}, el("span", { class: "which", text: m[0] + " " + entryLabel(entry) }),
        el("span", { class: "preview", text: preview.replace(/\s+/g, " ").slice(0, 300) }),
        el("span", { class: "nums", text: nums.join(" · ") })));
    let built = false;
    details.addEventListener("toggle", () => {
      if (!details.open || built) return;
      built = true;
      details.append(entryBody(entry, requests));
    });
    if (entry.conversation) openers.set(conversationKey(entry.conversation.s, entry.conversation.r, entry.conversation.i), details);
    return details;
  }
  function entryBody(entry, requests) {
    const body = el("div", { class: "body" });
    const tools = entry.conversation ? entry.conversation.tools.map((i) => data.tools[i]) : [];
    if (entry.row && entry.row.msg && (entry.conversation === null || entry.conversation.i === null)) {
      body.append(el("div", { class: "failure" }, el("b", { text: "✗ " + mark(entry.row.st)[1] + ": " }), entry.row.msg));
    }
    requests.forEach((r, n) => {
      const head = ["request " + (n + 1), r.p + (r.m ? " / " + r.m : "")];
      head.push(r.h ? "◌ from the store" : seconds(r.d) + (r.a > 1 ? ", ↻ " + r.a + " attempts" : ""));
      if (r.u) head.push((r.u[0] === null ? "?" : r.u[0]) + " tokens in, " + r.u[1] + " out" + (r.u[2] ? " (" + r.u[2] + " cached)" : ""));
      head.push(r.c === undefined ? "cost unknown (no pricing)" : money(r.c));
      if (r.f) head.push("finish: " + r.f);
      body.append(el("div", { class: "request-head", text: head.join(" · ") }));
      if (r.gone) body.append(el("p", { class: "muted", text: "The request text is no longer stored (the cache was cleared or pruned)." }));
      if (r.sys !== undefined) { body.append(el("div", { class: "role", text: "system" }), block(r.sys)); }
      if (r.skip) body.append(el("p", { class: "muted small", text: r.skip + " earlier message" + (r.skip === 1 ? "" : "s") + " as in the request before" }));
      for (const message of r.msgs || []) body.append(el("div", { class: "role", text: message[0] }), block(message[1]));
      if (r.why !== undefined) body.append(el("div", { class: "label", text: "reasoning" }), block(r.why));
      if (r.e) body.append(el("div", { class: "failure" }, el("b", { text: "✗ failed: " }), r.e));
      else if (r.reply !== undefined) body.append(el("div", { class: "label", text: "reply" }), block(r.reply));
      if (r.calls) {
        body.append(el("div", { class: "label", text: "tool calls" }));
        for (const call of r.calls) body.append(block(call[0] + "(" + call[1] + ")"));
        for (const tool of tools.filter((t) => t.turn === n + 1)) {
          const how = tool.h ? "◌ from the store" : "ran in " + seconds(tool.d);
          body.append(el("div", { class: "role", text: "⚙ " + tool.tool + " — " + how }));
          if (tool.e) body.append(el("div", { class: "failure" }, el("b", { text: "✗ tool error: " }), tool.e));
          else body.append(block(tool.res || ""));
        }
      }
    });
    if (!requests.length && entry.row && entry.row.out !== undefined) body.append(el("div", { class: "label", text: "output" }), block(entry.row.out));
    if (!requests.length && !(entry.row && (entry.row.msg || entry.row.out !== undefined))) body.append(el("p", { class: "muted", text: "No request was made for this step." }));
    return body;
  }
  const lists = new Map();
  function renderSteps() {
    const container = document.getElementById("step-list");
    for (const step of data.steps) {
      const rows = rowsByStep.get(step.name) || [];
      const rank = { failed: 4, not_run: 3, skipped: 2, finished: 1 };
      const worst = rows.reduce((w, r) => ((rank[r.st] || 0) > (rank[w] || 0) ? r.st : w), "finished");
      const status = rows.length ? worst : "not_run", m = mark(status);
      const requests = data.requests.filter((r) => r.s === step.name);
      let cost = 0, priced = true, tokensIn = 0, tokensOut = 0, duration = 0;
      for (const r of requests) { if (r.c === undefined) priced = false; else cost += r.c; if (r.u) { tokensIn += r.u[0] || 0; tokensOut += r.u[1]; } }
      for (const r of rows) duration = Math.max(duration, r.d);
      const meta = [seconds(duration), requests.length + " request" + (requests.length === 1 ? "" : "s"), tokensIn + "→" + tokensOut + " tokens", priced ? money(cost) : "cost ?"];
      if (step.after && step.after.length) meta.push("after " + step.after.join(", "));
      const card = el("article", { class: "step " + m[2], id: "step-" + step.name },
        el("div", { class: "step-head" }, el("h3", { text: step.name }), badge(status), el("span", { class: "meta", text: meta.join(" · ") })));
      if (step.where) card.append(el("div", { class: "muted small", text: "defined at " + step.where }));
      const failedRows = rows.filter((r) => r.msg);
      for (const row of failedRows.slice(0, 3)) {
        card.append(el("div", { class: "failure" }, el("b", { text: "✗ " + (row.r ? "row " + row.r + ": " : "") + mark(row.st)[1] + (step.where ? " (" + step.where + ")" : "") + ": " }), row.msg));
      }
      if (failedRows.length > 3) card.append(el("p", { class: "muted small", text: (failedRows.length - 3) + " more rows failed; see the items below." }));
      if (rows.length === 1 && rows[0].out !== undefined) card.append(el("div", { class: "label", text: "output" }), block(rows[0].out));
      const entries = entriesOf(step.name);
      if (entries.length) {
        const list = el("div", { class: "items" });
        card.append(el("div", { class: "label", text: entries.length.toLocaleString() + (entries.length === 1 ? " entry" : " entries") + " — open one for the messages sent, the reply and its cost" }), list);
        lists.set(step.name, { entries, list: lazyList(list, entries.length, (n) => renderEntry(entries[n])) });
      }
      container.append(card);
    }
  }
  function openConversation(s, r, i) {
    const holder = lists.get(s);
    if (!holder) return;
    const index = holder.entries.findIndex((e) => e.conversation && e.conversation.r === r && e.conversation.i === i);
    if (index < 0) return;
    holder.list.showUntil(index);
    const details = openers.get(conversationKey(s, r, i));
    if (details) { details.open = true; details.scrollIntoView({ block: "center" }); }
  }

  // ── Timeline: one lane group per step, bars packed into lanes ──
  function renderTimeline() {
    const container = document.getElementById("timeline-view");
    const bars = [];
    data.requests.forEach((r, index) => bars.push({ s: r.s, t: r.t, d: r.h ? 0 : r.d, q: r.h ? 0 : Math.min(r.q || 0, r.d), fb: r.fb, kind: r.e ? "failed" : r.h ? "cached" : r.a > 1 ? "retried" : "ok", request: index }));
    data.tools.forEach((t, index) => bars.push({ s: t.s, t: t.t, d: t.d, kind: "tool", tool: index }));
    if (!bars.length) { container.append(el("p", { class: "muted", style: "padding:8px 12px", text: "No request was made in this run." })); return; }
    const total = bars.reduce((m, b) => Math.max(m, b.t + b.d), Math.max(data.run.duration, 0.001));
    const order = data.steps.map((s) => s.name);
    const labelWidth = 150, width = Math.max(700, Math.min(1240, container.clientWidth || 1200)), plot = width - labelWidth - 16;
    const laneHeight = 9, laneGap = 2, maxLanes = 24, groupGap = 10, top = 22;
    const groups = [];
    let y = top;
    for (const step of order) {
      const own = bars.filter((b) => b.s === step).sort((a, b) => a.t - b.t);
      if (!own.length) continue;
      const ends = [];
      for (const bar of own) {
        let lane = ends.findIndex((end) => end <= bar.t);
        if (lane < 0) { lane = ends.length < maxLanes ? ends.length : ends.indexOf(Math.min(...ends)); if (lane === ends.length) ends.push(0); }
        ends[lane] = bar.t + Math.max(bar.d, total / plot * 2);
        bar.lane = lane;
      }
      groups.push({ step, bars: own, y, lanes: ends.length });
      y += ends.length * (laneHeight + laneGap) + groupGap;
    }
    const height = y + 4;
    const root = svg("svg", { width, height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "Timeline of the run's requests" });
    const defs = svg("defs");
    const retry = svg("pattern", { id: "p-retry", width: 6, height: 6, patternUnits: "userSpaceOnUse" });
    retry.append(svg("rect", { width: 4, height: 6, class: "pattern-retry" }));
    const fail = svg("pattern", { id: "p-fail", width: 5, height: 5, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    fail.append(svg("rect", { width: 2.5, height: 5, class: "pattern-fail" }));
    defs.append(retry, fail);
    root.append(defs);
    const axis = svg("g", { class: "axis" });
    const step = niceStep(total / 8);
    for (let t = 0; t <= total + 1e-9; t += step) {
      const x = labelWidth + t / total * plot;
      axis.append(svg("line", { x1: x, x2: x, y1: top - 4, y2: height, class: "grid" }));
      const label = svg("text", { x: x + 2, y: 12 });
      label.textContent = seconds(t);
      axis.append(label);
    }
    root.append(axis);
    const bySvg = [];
    for (const group of groups) {
      const label = svg("text", { x: 8, y: group.y + 9 });
      label.textContent = group.step.length > 20 ? group.step.slice(0, 19) + "…" : group.step;
      root.append(label);
      root.append(svg("line", { x1: 0, x2: width, y1: group.y + group.lanes * (laneHeight + laneGap) + groupGap / 2, y2: group.y + group.lanes * (laneHeight + laneGap) + groupGap / 2, class: "lane-sep" }));
      const fragment = document.createDocumentFragment();
      for (const bar of group.bars) {
        // A request that waited for a slot: a dotted line while queued, the bar once sent, a
        // tick at a streamed reply's first byte.
        const queued = bar.q || 0;
        const x0 = labelWidth + bar.t / total * plot;
        const x = labelWidth + (bar.t + queued) / total * plot;
        const w = Math.max(2, (bar.d - queued) / total * plot);
        const h = bar.kind === "tool" ? laneHeight - 4 : laneHeight;
        const laneY = group.y + bar.lane * (laneHeight + laneGap);
        if (queued > 0) fragment.append(svg("line", { x1: x0.toFixed(1), x2: x.toFixed(1), y1: laneY + laneHeight / 2, y2: laneY + laneHeight / 2, class: "queued", "data-b": bySvg.length }));
        const rect = svg("rect", { x: x.toFixed(1), y: laneY + (laneHeight - h) / 2, width: w.toFixed(1), height: h, class: bar.kind, "data-b": bySvg.length });
        fragment.append(rect);
        if (bar.fb !== undefined && bar.fb !== null) {
          const fx = (labelWidth + (bar.t + bar.fb) / total * plot).toFixed(1);
          fragment.append(svg("line", { x1: fx, x2: fx, y1: laneY - 1, y2: laneY + laneHeight + 1, class: "first-byte", "data-b": bySvg.length }));
        }
        bySvg.push(bar);
      }
      root.append(fragment);
    }
    container.append(root);
    const tooltip = document.getElementById("tooltip");
    root.addEventListener("mousemove", (event) => {
      const index = event.target.getAttribute && event.target.getAttribute("data-b");
      if (index === null || index === undefined) { tooltip.hidden = true; return; }
      const bar = bySvg[+index];
      let text;
      if (bar.tool !== undefined) {
        const t = data.tools[bar.tool];
        text = "⚙ " + t.tool + " (" + t.s + where(t.r, t.i) + ", turn " + t.turn + ")\n" + (t.h ? "from the store" : "ran in " + seconds(t.d)) + (t.e ? "\n✗ " + t.e.slice(0, 200) : "");
      } else {
        const r = data.requests[bar.request];
        text = r.s + where(r.r, r.i) + "\nready at " + seconds(r.t) + (r.h ? ", ◌ from the store" : (r.q ? ", queued " + seconds(r.q) : "") + (r.fb !== undefined ? ", first byte after " + seconds(r.fb) : "") + ", done after " + seconds(r.d)) + (r.a > 1 ? "\n↻ " + r.a + " attempts" : "") + (r.e ? "\n✗ " + r.e.slice(0, 200) : "");
      }
      tooltip.textContent = text;
      tooltip.hidden = false;
      tooltip.style.left = Math.min(event.clientX + 14, window.innerWidth - 430) + "px";
      tooltip.style.top = (event.clientY + 14) + "px";
    });
    root.addEventListener("mouseleave", () => { tooltip.hidden = true; });
    root.addEventListener("click", (event) => {
      const index = event.target.getAttribute && event.target.getAttribute("data-b");
      if (index === null || index === undefined) return;
      const bar = bySvg[+index];
      const item = bar.tool !== undefined ? data.tools[bar.tool] : data.requests[bar.request];
      openConversation(item.s, item.r, item.i === undefined ? null : item.i);
    });
  }
  function where(r, i) { return (r ? ", row " + r : "") + (i !== null && i !== undefined ? ", item " + i : ""); }
  function niceStep(raw) {
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const f of [1, 2, 5, 10]) if (raw <= f * power) return f * power;
    return 10 * power;
  }

  // ── Test cases: cases × variants ──
  function renderTests() {
    if (!data.tests) return;
    const variants = [...new Set(data.tests.map((t) => t.variant))];
    const cases = [...new Set(data.tests.map((t) => t.case))];
    const cell = new Map(data.tests.map((t) => [t.case + "\u0000" + t.variant, t]));
    const select = document.getElementById("variant-filter");
    for (const v of variants) select.append(el("option", { value: v, text: v }));
    const failuresOnly = document.getElementById("failures-only"), search = document.getElementById("test-search");
    const holder = document.getElementById("test-matrix"), count = document.getElementById("test-count");
    function draw() {
      holder.textContent = "";
      const shownVariants = select.value ? [select.value] : variants;
      const query = search.value.trim().toLowerCase();
      const matching = cases.filter((name) => {
        const cells = shownVariants.map((v) => cell.get(name + "\u0000" + v)).filter(Boolean);
        if (failuresOnly.checked && !cells.some((t) => t.st !== "pass")) return false;
        if (!query) return true;
        if (name.toLowerCase().includes(query)) return true;
        return cells.some((t) => (t.e || "").toLowerCase().includes(query) || t.v.some((v) => (v[0] + " " + v[1] + " " + v[3]).toLowerCase().includes(query)));
      });
      const failed = data.tests.filter((t) => t.st !== "pass").length;
      count.textContent = matching.length + " of " + cases.length + " cases shown · " + failed + " of " + data.tests.length + " cells failed";
      const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "case" }), ...shownVariants.map((v) => el("th", { text: v })))));
      const tbody = el("tbody");
      table.append(tbody);
      holder.append(el("div", { class: "matrix-scroll" }, table));
      if (!matching.length) { holder.append(el("p", { class: "muted", text: "No case matches." })); return; }
      lazyList(tbody, matching.length, (n) => {
        const name = matching[n];
        const row = el("tr", {}, el("th", { text: name }));
        for (const v of shownVariants) {
          const t = cell.get(name + "\u0000" + v);
          if (!t) { row.append(el("td", { text: "—" })); continue; }
          const pass = t.st === "pass";
          const firstFailure = t.e ? "the run failed: " + t.e : (t.v.find((x) => !x[2]) || null);
          const why = firstFailure === null ? "" : typeof firstFailure === "string" ? firstFailure : firstFailure[0] + ": " + firstFailure[1] + " — " + firstFailure[3];
          const held = t.v.filter((x) => x[2]).length;
          const td = el("td", { class: "cell " + (pass ? "ok" : "bad"), title: "click for every assertion" },
            el("span", { class: "mark", text: (pass ? "✓ pass" : "✗ fail") + " " }), el("span", { class: "muted small", text: held + "/" + t.v.length + (t.c !== undefined ? " · " + money(t.c) : "") }),
            why ? el("span", { class: "why", text: why.slice(0, 220) }) : null);
          td.addEventListener("click", () => {
            const next = row.nextSibling;
            if (next && next.classList && next.classList.contains("verdicts") && next.dataset.variant === v) { next.remove(); return; }
            if (next && next.classList && next.classList.contains("verdicts")) next.remove();
            const list = el("ul", { class: "verdicts" });
            if (t.e) list.append(el("li", {}, el("span", { class: "bad", text: "✗ the run failed: " }), t.e));
            for (const x of t.v) list.append(el("li", {}, el("span", { class: x[2] ? "ok" : "bad", text: x[2] ? "✓ " : "✗ " }), x[0] + ": " + x[1] + " — " + x[3]));
            const detail = el("tr", { class: "verdicts", "data-variant": v }, el("td", { colspan: shownVariants.length + 1 }, el("div", { class: "label", text: name + " · " + v }), list));
            row.after(detail);
          });
          row.append(td);
        }
        return row;
      });
    }
    failuresOnly.addEventListener("change", draw);
    select.addEventListener("change", draw);
    search.addEventListener("input", draw);
    draw();
  }

  // ── Comparison: outputs side by side with a line diff ──
  function renderCompare() {
    if (!data.compare) return;
    const holder = document.getElementById("compare-view");
    const changed = data.compare.entries.filter((e) => e.lines || e.k.startsWith("only"));
    const same = data.compare.entries.length - changed.length;
    holder.append(el("p", { text: changed.length + " step output" + (changed.length === 1 ? "" : "s") + " differ, " + same + " the same (run " + data.compare.id + " on the left, run " + data.run.id + " on the right)." }));
    lazyList(holder, changed.length, (n) => {
      const entry = changed[n];
      const box = el("div", { class: "step" }, el("div", { class: "step-head" }, el("h3", { text: entry.s + (entry.r ? " (row " + entry.r + ")" : "") }), el("span", { class: "badge plain", text: entry.k })));
      if (!entry.lines) return box;
      const grid = el("div", { class: "diff" }, el("div", { class: "head", text: "run " + data.compare.id }), el("div", { class: "head", text: "run " + data.run.id }));
      let i = 0;
      const lines = entry.lines;
      while (i < lines.length) {
        if (lines[i][0] === " ") { grid.append(el("div", { text: lines[i][1] }), el("div", { text: lines[i][1] })); i++; continue; }
        const removed = [], inserted = [];
        while (i < lines.length && lines[i][0] !== " ") { (lines[i][0] === "-" ? removed : inserted).push(lines[i][1]); i++; }
        for (let k = 0; k < Math.max(removed.length, inserted.length); k++) {
          grid.append(k < removed.length ? el("div", { class: "del", text: removed[k] }) : el("div"));
          grid.append(k < inserted.length ? el("div", { class: "ins", text: inserted[k] }) : el("div"));
        }
      }
      box.append(grid);
      return box;
    });
  }

  renderSteps();
  renderTimeline();
  renderTests();
  renderCompare();
  if (location.hash.length > 1) { const target = document.getElementById(decodeURIComponent(location.hash.slice(1))); if (target) target.scrollIntoView(); }
  // For tests and BENCHMARKS.md: the page is drawn, and how long after navigation started.
  document.documentElement.setAttribute("data-render-ms", String(Math.round(performance.now())));
  document.documentElement.setAttribute("data-rendered", "true");
})();
"""#
}
