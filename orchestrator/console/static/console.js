// toolmesh web console: runs list, live run view, conversation, approvals, replies, outside events, new runs, schedules, tool catalog.
// It uses only the public HTTP API (the same contract as the CLI). A run's page follows the run's
// event stream (Server-Sent Events), so text appears as the model writes it and every open page sees
// a change (an approval made elsewhere, a finished task) the moment it happens; lists poll about
// once a second.
// All data goes into the page as text nodes, never as HTML: tool results are untrusted.
"use strict";

const POLL_MS = 1000;
const STREAM_RETRY_FIRST_MS = 1000; // a run's event stream refused for a while: first retry, doubling
const STREAM_RETRY_MAX_MS = 15000;
// A run's events leave as its steps happen, a moment before its view (status, progress) says so:
// after the last event of a burst the view is asked for again this long after it, in case it lagged.
const VIEW_CATCH_UP_MS = [500, 1500, 4000];
const KEY_STORAGE = "toolmesh.functionsKey";
const BUDGETS = [
  ["max_iterations", "Max iterations", "1..200, default 8"],
  ["max_tool_calls", "Max tool calls", "1..1000, default 40"],
  ["max_tool_calls_per_task", "Max tool calls per task", "1..50, default 6"],
  ["max_tokens", "Max tokens", "1000..5000000, default 200000"],
  ["deadline_seconds", "Deadline (seconds)", "10..2592000, default 86400"],
];
const FINISHED = new Set(["Completed", "Failed", "Terminated", "Canceled"]);

const state = { key: null, viewToken: 0 };

class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

// ---------------------------------------------------------------- small helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value") el.value = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function oneLine(value, limit = 160) {
  if (value === null || value === undefined) return "";
  let text = typeof value === "string" ? value : JSON.stringify(value);
  text = text.replace(/\s+/g, " ").trim();
  return text.length > limit ? text.slice(0, limit - 1) + "…" : text;
}

function badge(text, kind) {
  return h("span", { class: "badge " + (kind || text) }, text);
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? String(iso) : date.toLocaleString();
}

function setBanner(text) {
  const banner = document.getElementById("banner");
  banner.textContent = text || "";
  banner.hidden = !text;
}

// Replace a section's content only when its data changed, so focus and selections survive polls.
function patch(section, data, build) {
  const signature = JSON.stringify(data);
  if (section.dataset.signature === signature) return;
  section.dataset.signature = signature;
  section.replaceChildren(...[build(data)].flat().filter(Boolean));
}

// Keep one element per key: new items are added, gone items removed, the rest left untouched
// (a half-written reply or comment is never wiped by a poll).
function syncKeyed(container, items, keyOf, create) {
  const existing = new Map([...container.children].map((el) => [el.dataset.key, el]));
  const wanted = new Set();
  for (const item of items) {
    const key = keyOf(item);
    wanted.add(key);
    if (!existing.has(key)) {
      const el = create(item);
      el.dataset.key = key;
      container.append(el);
    }
  }
  for (const [key, el] of existing) if (!wanted.has(key)) el.remove();
}

// ---------------------------------------------------------------- API access

function initKey() {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (code) {
    localStorage.setItem(KEY_STORAGE, code);
    params.delete("code");
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
  }
  state.key = localStorage.getItem(KEY_STORAGE);
}

function showKeyPanel(message) {
  document.getElementById("key-panel").hidden = false;
  if (message) document.getElementById("key-message").textContent = message;
  document.getElementById("key-input").focus();
}

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (state.key) headers["x-functions-key"] = state.key;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "Cannot reach the toolmesh API (" + err.message + ").", null);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (err) {
      data = null;
    }
  }
  if (!response.ok) {
    let message = "HTTP " + response.status + " " + response.statusText;
    let field = null;
    if (data && data.error && typeof data.error === "object") {
      message = data.error.message || message;
      field = data.error.field || null;
    } else if (data && data.detail) {
      message = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    }
    if (response.status === 401) {
      showKeyPanel("The API refused the request (401): enter a valid function key.");
    }
    throw new ApiError(response.status, message, field);
  }
  return data;
}

const seg = encodeURIComponent;

// Poll `load` every POLL_MS while this view is shown; `render` gets each answer.
function poller(token, load, render, onError) {
  const tick = async () => {
    if (token !== state.viewToken) return;
    let keepGoing = true;
    try {
      const data = await load();
      if (token !== state.viewToken) return;
      setBanner("");
      keepGoing = render(data) !== false;
    } catch (err) {
      if (token !== state.viewToken) return;
      keepGoing = onError(err) !== false;
    }
    if (keepGoing && token === state.viewToken) setTimeout(tick, POLL_MS);
  };
  tick();
}

function pollError(err) {
  if (err.status === 404) return false;
  setBanner(err.message + " Retrying…");
  return true;
}

// ---------------------------------------------------------------- runs list

function viewRuns(root, token) {
  const filter = h(
    "select",
    { id: "status-filter", "aria-label": "Status filter" },
    ["", "Running", "Pending", "Completed", "Failed", "Terminated", "Suspended"].map((s) =>
      h("option", { value: s }, s || "All statuses"),
    ),
  );
  const body = h("tbody", { id: "runs-body" });
  root.append(
    h("div", { class: "row" }, h("h1", { class: "grow" }, "Runs"), filter, h("a", { href: "#/new" }, "New run")),
    h(
      "div",
      { class: "card" },
      h("table", { id: "runs-table" }, h("thead", {}, h("tr", {}, ["Run", "Status", "Objective", "Created", "Updated", "Cost"].map((c) => h("th", {}, c)))), body),
    ),
  );
  filter.addEventListener("change", () => {
    body.dataset.signature = "";
  });
  poller(
    token,
    () => api("GET", "/api/runs?limit=50" + (filter.value ? "&status=" + seg(filter.value) : "")),
    (runs) =>
      patch(body, runs, (list) =>
        list.length === 0
          ? h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No runs yet."))
          : list.map((run) =>
              h(
                "tr",
                { dataset: { run: run.id } },
                h("td", {}, h("a", { href: "#/runs/" + seg(run.id) }, run.id)),
                h("td", {}, badge(run.status)),
                h("td", {}, oneLine(run.objective, 120)),
                h("td", { class: "muted" }, when(run.created)),
                h("td", { class: "muted" }, when(run.updated)),
                h("td", { class: "muted cost" }, "$" + (run.cost_usd ?? 0).toFixed(4)),
              ),
            ),
      ),
    pollError,
  );
}

// ---------------------------------------------------------------- one run, live

// A tool's questions (an MCP server asking for input during a call): one field per property of
// each question's schema; the answers go with the approval as {question: {field: value}}.
function questionFields(approval) {
  const fields = [];
  const rows = Object.entries(approval.questions || {}).map(([key, question]) => {
    const properties = (question.schema && question.schema.properties) || {};
    const inputs = Object.entries(properties).map(([name, schema]) => {
      const kind = schema && schema.type;
      const input = h("input", {
        type: kind === "boolean" ? "checkbox" : kind === "number" || kind === "integer" ? "number" : "text",
        "aria-label": (schema && (schema.title || schema.description)) || name,
        dataset: { question: key, field: name, kind: kind || "string" },
        class: kind === "boolean" ? "" : "grow",
      });
      fields.push(input);
      return h("label", { class: "row" }, h("span", { class: "muted" }, (schema && schema.title) || name), input);
    });
    return h("div", { class: "question" }, h("div", {}, question.message || key), ...inputs);
  });
  const answers = () => {
    const out = {};
    for (const input of fields) {
      const { question, field, kind } = input.dataset;
      const value = kind === "boolean" ? input.checked : kind === "number" || kind === "integer" ? Number(input.value) : input.value;
      (out[question] = out[question] || {})[field] = value;
    }
    return out;
  };
  return { rows, answers };
}

function approvalItem(runId, approval) {
  const comment = h("input", { type: "text", placeholder: "Comment (optional)", "aria-label": "Comment", class: "grow" });
  const note = h("span", { class: "muted", role: "status" });
  const buttons = [];
  const asking = approval.kind === "input" ? questionFields(approval) : null;
  const decide = async (approve) => {
    buttons.forEach((b) => (b.disabled = true));
    note.className = "muted";
    note.textContent = "Sending…";
    try {
      const body = { approve };
      if (asking && approve) body.input = asking.answers();
      if (comment.value.trim()) body.comment = comment.value.trim();
      await api("POST", "/api/runs/" + seg(runId) + "/approvals/" + seg(approval.call_id), body);
      note.className = "notice";
      note.textContent = (approve ? "Approved" : "Denied") + "; waiting for the run to continue…";
    } catch (err) {
      buttons.forEach((b) => (b.disabled = false));
      note.className = "error";
      note.textContent = err.message;
    }
  };
  buttons.push(h("button", { type: "button", class: "approve", onclick: () => decide(true) }, asking ? "Answer" : "Approve"));
  buttons.push(h("button", { type: "button", class: "deny danger", onclick: () => decide(false) }, asking ? "Decline" : "Deny"));
  return h(
    "div",
    { class: "item approval", dataset: { call: approval.call_id } },
    h("div", {}, badge(asking ? "question" : "approval needed", "waiting"), " ", h("strong", {}, approval.function), approval.tool ? h("span", { class: "muted" }, " (" + approval.tool + ")") : null),
    h("code", {}, oneLine(approval.arguments, 2000)),
    ...(asking ? asking.rows : []),
    h("div", { class: "muted" }, "call " + approval.call_id + (approval.expires_at ? " · expires " + when(approval.expires_at) : "")),
    h("div", { class: "row" }, comment, ...buttons),
    note,
  );
}

// A sent message reads better as "To / Subject / body" than as the tool's JSON answer.
function messageView(waiting) {
  const sent = waiting.response;
  if (sent && typeof sent === "object" && (sent.subject || sent.body)) {
    return h(
      "div",
      { class: "message" },
      sent.to ? h("div", {}, h("strong", {}, "To: "), String(sent.to)) : null,
      sent.subject ? h("div", {}, h("strong", {}, "Subject: "), String(sent.subject)) : null,
      sent.body ? h("code", {}, String(sent.body)) : null,
    );
  }
  return waiting.message ? h("code", {}, oneLine(waiting.message, 2000)) : null;
}

function eventWaitItem(waiting) {
  // A wait for an outside event: what it waits for, and a form that posts one (the data prefilled with the match).
  const data = h("textarea", { "aria-label": "Event data (JSON)", class: "event-data" });
  data.value = JSON.stringify(waiting.match || {}, null, 2);
  const note = h("span", { class: "muted", role: "status" });
  const send = h("button", { type: "button", class: "send-event" }, "Post event");
  send.addEventListener("click", async () => {
    let parsed;
    try {
      parsed = JSON.parse(data.value);
    } catch (err) {
      note.className = "error";
      note.textContent = "The data is not valid JSON: " + err.message;
      return;
    }
    send.disabled = true;
    try {
      const answer = await api("POST", "/api/events", { name: waiting.event, data: parsed });
      note.className = "notice";
      note.textContent = "Event posted; delivered to " + (answer.delivered_to || []).length + " wait(s).";
    } catch (err) {
      note.className = "error";
      note.textContent = err.message;
    } finally {
      send.disabled = false;
    }
  });
  return h(
    "div",
    { class: "item waiting event-wait", dataset: { call: waiting.call_id } },
    h("div", {}, badge("waiting for an event", "waiting"), " ", h("strong", {}, waiting.event), " after ", h("code", {}, waiting.function)),
    h("div", {}, "where ", h("code", { class: "match" }, JSON.stringify(waiting.match || {}))),
    h("div", { class: "muted" }, "call " + waiting.call_id + (waiting.since ? " · since " + when(waiting.since) : "") + (waiting.expires_at ? " · no answer after " + when(waiting.expires_at) : "")),
    data,
    h("div", { class: "row" }, send),
    note,
  );
}

function waitingItem(runId, waiting) {
  if (waiting.kind === "event") return eventWaitItem(waiting);
  const text = h("textarea", { placeholder: "Your reply", "aria-label": "Reply" });
  const sender = h("input", { type: "text", value: "console", "aria-label": "From" });
  const note = h("span", { class: "muted", role: "status" });
  const send = h("button", { type: "button", class: "send-reply" }, "Send reply");
  send.addEventListener("click", async () => {
    if (!text.value.trim()) {
      note.className = "error";
      note.textContent = "Write a reply first.";
      return;
    }
    send.disabled = true;
    note.className = "muted";
    note.textContent = "Sending…";
    try {
      await api("POST", "/api/runs/" + seg(runId) + "/replies/" + seg(waiting.call_id), { reply: text.value, from: sender.value || "console" });
      note.className = "notice";
      note.textContent = "Reply sent; waiting for the run to receive it…";
    } catch (err) {
      send.disabled = false;
      note.className = "error";
      note.textContent = err.message;
    }
  });
  return h(
    "div",
    { class: "item waiting", dataset: { call: waiting.call_id } },
    h("div", {}, badge("waiting for a reply", "waiting"), " ", h("strong", {}, waiting.function)),
    messageView(waiting),
    h("div", { class: "muted" }, "call " + waiting.call_id + (waiting.since ? " · since " + when(waiting.since) : "") + (waiting.expires_at ? " · expires " + when(waiting.expires_at) : "")),
    text,
    h("div", { class: "row" }, h("label", {}, "From ", sender), send),
    note,
  );
}

function agentCell(task) {
  // The agent of a network task: the chain of handoffs, then why the router chose the first one.
  if (!task.agent) return null;
  const chain = (task.handoffs || []).map((x) => x.from).concat([task.agent]).join(" → ");
  return h(
    "td",
    { class: "agent" },
    h("strong", {}, chain),
    task.route ? h("div", { class: "muted route" }, "routed by " + task.route.by + ": " + task.route.reason) : null,
    (task.handoffs || []).map((x) => h("div", { class: "muted handoff" }, "handoff " + x.from + " → " + x.to + ": " + x.reason)),
  );
}

function tasksTable(progress, output) {
  const rows = [];
  const done = (progress ? progress.done : output ? output.tasks : []) || [];
  const current = progress && progress.current_task;
  const networked = done.concat(current ? [current] : []).some((t) => t.agent);
  const agent = (task) => (networked ? agentCell(task) || h("td", {}) : null);
  for (const task of done) rows.push(h("tr", { class: "task done" }, h("td", {}, task.id), h("td", {}, task.task), agent(task), h("td", { class: "result" }, task.result || "")));
  if (current) rows.push(h("tr", { class: "task current" }, h("td", {}, current.id), h("td", {}, current.task), agent(current), h("td", {}, badge("running", "Running"))));
  const pending = progress ? progress.pending : output ? output.pending : [];
  for (const task of pending || []) rows.push(h("tr", { class: "task pending" }, h("td", {}, task.id), h("td", {}, task.task), networked ? h("td", {}) : null, h("td", { class: "muted" }, "pending")));
  if (rows.length === 0) return h("p", { class: "muted" }, "No tasks yet: the run is planning.");
  const heads = ["#", "Task"].concat(networked ? ["Agent"] : [], ["Result"]);
  return h("table", { id: "tasks-table" }, h("thead", {}, h("tr", {}, heads.map((c) => h("th", {}, c)))), h("tbody", {}, rows));
}

function subRunsTree(runId, subRuns) {
  // The sub-orchestrations in flight: one agent on one task each, with what it waits for.
  return h(
    "ul",
    { class: "tree", id: "sub-runs-tree" },
    h(
      "li",
      {},
      h("code", {}, runId),
      h(
        "ul",
        {},
        subRuns.map((sub) => {
          const p = sub.progress || {};
          const waits = (p.waiting || []).map((w) => h("li", { class: "muted" }, w.kind === "event" ? "waits for " + w.event + " where " + JSON.stringify(w.match || {}) : "waits for a reply to " + w.function));
          const asks = (p.approvals || []).map((a) => h("li", { class: "muted" }, "asks approval for " + a.function));
          return h(
            "li",
            { class: "sub-run", dataset: { subRun: sub.id } },
            "task " + sub.task_id + " · ",
            h("strong", {}, sub.agent),
            " ",
            badge(sub.status || "Pending"),
            p.phase ? " " + p.phase : "",
            h("span", { class: "muted" }, "  " + sub.id),
            waits.length + asks.length ? h("ul", {}, waits, asks) : null,
          );
        }),
      ),
    ),
  );
}

function callsTable(calls) {
  if (!calls || calls.length === 0) return h("p", { class: "muted" }, "No tool calls yet.");
  return h(
    "table",
    { id: "calls-table" },
    h("thead", {}, h("tr", {}, ["Call", "Task", "Function", "Arguments", "Outcome"].map((c) => h("th", {}, c)))),
    h(
      "tbody",
      {},
      calls.map((c) =>
        h(
          "tr",
          { class: "call", dataset: { call: c.call_id } },
          h("td", { class: "muted" }, c.call_id),
          h("td", {}, c.task_id ?? ""),
          h("td", {}, c.function),
          h("td", { class: "args" }, oneLine(c.arguments, 300)),
          h("td", {}, c.ok === true ? badge("ok " + (c.status ?? ""), "ok") : c.ok === false ? badge("error " + (c.status ?? ""), "error") : badge(String(c.status ?? "running"), "waiting"), " ", oneLine(c.summary, 200)),
        ),
      ),
    ),
  );
}

function usageLine(usage) {
  if (!usage) return null;
  return h(
    "p",
    { class: "muted", id: "usage" },
    `${usage.llm_calls ?? 0} LLM calls · ${usage.total_tokens ?? 0} tokens (${usage.prompt_tokens ?? 0} prompt + ${usage.completion_tokens ?? 0} completion) · ${usage.tool_calls ?? 0} tool calls · cost $${(usage.cost_usd ?? 0).toFixed(4)}`,
  );
}

function reportCard(output) {
  if (!output) return null;
  if (typeof output === "string") {
    // A failed orchestration's output is its error message.
    return [h("h2", {}, "Run failed"), h("p", { class: "error", id: "failure" }, output)];
  }
  return [
    h("h2", {}, "Report"),
    h("p", {}, h("strong", {}, "Outcome: "), badge(output.outcome, output.outcome === "completed" ? "ok" : output.outcome === "failed" ? "error" : "waiting"), h("strong", {}, "  Stop reason: "), h("span", { id: "stop-reason" }, output.stop_reason)),
    output.summary ? h("p", { id: "summary", class: "result" }, output.summary) : null,
    usageLine(output.usage),
    output.model ? h("p", { class: "muted" }, "model " + output.model) : null,
  ];
}

// A run's timeline as a waterfall: one row per model step, tool call and wait for a person, each bar
// placed on the run's own time axis (start to finish), failures and retries marked.
function seconds(iso) {
  const t = Date.parse(iso);
  return isNaN(t) ? null : t / 1000;
}

function timelineMetrics(metrics, cost) {
  if (!metrics) return null;
  const s = metrics.seconds || {};
  const calls = Object.values(metrics.tool_calls || {}).reduce((n, c) => n + (c.ok || 0) + (c.failed || 0), 0);
  const fmt = (v) => (v || 0).toFixed(2) + " s";
  return h(
    "p",
    { class: "muted", id: "timeline-metrics" },
    `${metrics.model_steps} model steps · ${calls} tool calls · ${metrics.retries} retries · model ${fmt(s.model)} · tools ${fmt(s.tools)} · people ${fmt(s.people)} · orchestration ${fmt(s.orchestration)} · total ${fmt(s.total)} · cost $${cost.toFixed(4)}`,
  );
}

function timelineView(data) {
  const entries = data.entries || [];
  if (entries.length === 0) return [h("h2", {}, "Timeline"), h("p", { class: "muted" }, "Nothing on the timeline yet.")];
  const starts = entries.map((e) => seconds(e.start)).filter((v) => v !== null);
  const ends = entries.map((e) => seconds(e.end)).filter((v) => v !== null);
  const origin = seconds(data.started_at) ?? Math.min(...starts);
  const finish = seconds(data.finished_at) ?? Math.max(...ends);
  const span = Math.max(finish - origin, 0.001);
  const pct = (v) => Math.min(100, Math.max(0, ((v - origin) / span) * 100));
  const rows = entries.map((e) => {
    const start = seconds(e.start) ?? origin;
    const end = seconds(e.end) ?? start;
    const took = (end - start).toFixed(2) + " s";
    const retries = (e.attempts || 1) > 1 ? h("span", { class: "retries", title: e.attempts + " attempts" }, "↻" + (e.attempts - 1)) : null;
    // Set through the CSSOM: the page's content security policy refuses style attributes.
    const bar = h("div", { class: "wf-bar" });
    bar.style.left = pct(start) + "%";
    bar.style.width = Math.max(pct(end) - pct(start), 0.4) + "%";
    const tip = `${e.kind} ${e.name} · ${took}` + (e.tokens ? ` · ${e.tokens} tokens` : "") + (e.cost_usd ? ` · $${e.cost_usd.toFixed(4)}` : "") + (e.detail ? ` · ${e.detail}` : "");
    return h(
      "div",
      {
        class: "wf-row " + e.kind + (e.ok ? "" : " failed"),
        dataset: { kind: e.kind, name: e.name, task: e.task_id ?? "", call: e.call_id ?? "" },
        title: tip,
      },
      h("div", { class: "wf-label" }, badge(e.kind, e.ok ? e.kind : "error"), " ", h("span", { class: "wf-name" }, e.name), e.task_id ? h("span", { class: "muted" }, " #" + e.task_id) : null, " ", retries),
      h("div", { class: "wf-track" }, bar),
      h("div", { class: "wf-took muted" }, took),
    );
  });
  const cost = entries.reduce((sum, e) => sum + (e.cost_usd || 0), 0);
  return [
    h("h2", {}, "Timeline"),
    timelineMetrics(data.metrics, cost),
    h("div", { class: "wf-axis muted" }, h("span", {}, "0 s"), h("span", {}, span.toFixed(2) + " s")),
    h("div", { class: "waterfall", id: "waterfall" }, rows),
    data.trace_id ? h("p", { class: "muted" }, "trace ", h("code", { id: "trace-id" }, data.trace_id)) : null,
  ];
}

function viewRun(root, token, runId) {
  const header = h("div", { class: "row", id: "run-header" });
  const objective = h("p", { id: "objective" });
  const attention = h("section", { class: "card attention", id: "attention", hidden: true });
  const approvals = h("div", { id: "approvals" });
  const waiting = h("div", { id: "waiting" });
  attention.append(h("h2", {}, "Needs a person"), approvals, waiting);
  const tasks = h("section", { class: "card", id: "tasks" });
  const subRuns = h("section", { class: "card", id: "sub-runs", hidden: true });
  const calls = h("section", { class: "card", id: "calls" });
  const report = h("section", { class: "card report", id: "report", hidden: true });
  const timeline = h("section", { class: "card", id: "timeline", hidden: true });
  let timelineShown = false;
  const message = h("div", { role: "alert" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel-run", hidden: true }, "Cancel run");
  let armed = false;
  cancel.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      cancel.textContent = "Click again to cancel";
      setTimeout(() => {
        armed = false;
        cancel.textContent = "Cancel run";
      }, 4000);
      return;
    }
    cancel.disabled = true;
    try {
      await api("POST", "/api/runs/" + seg(runId) + "/cancel");
      message.replaceChildren(h("p", { class: "notice" }, "Cancellation requested."));
    } catch (err) {
      message.replaceChildren(h("p", { class: "error" }, err.message));
      cancel.disabled = false;
    }
  });
  const live = h("section", { class: "card", id: "live" }, h("h2", {}, "Live"));
  const liveText = h("div", { id: "live-text", class: "live-text" });
  live.append(liveText);
  const conversation = conversationCard(runId, token);
  root.append(h("div", { class: "row" }, h("h1", { class: "grow" }, "Run ", h("code", {}, runId)), cancel), header, objective, message, attention, conversation.card, live, tasks, subRuns, calls, report, timeline);

  const render = (run) => {
      const progress = run.progress;
      patch(header, [run.status, progress && progress.phase, progress && progress.iteration, run.updated], () => [
        badge(run.status),
        progress ? h("span", { id: "phase" }, "phase " + progress.phase + " · iteration " + progress.iteration + (progress.execution ? " · execution " + progress.execution : "")) : null,
        h("span", { class: "muted" }, "updated " + when(run.updated)),
      ]);
      objective.textContent = run.objective || (run.progress && run.progress.conversation && run.progress.conversation.mode === "chat" ? "A chat: each message is a turn." : "");
      conversation.update(run);
      cancel.hidden = FINISHED.has(run.status);
      const subs = (progress && progress.sub_runs) || [];
      // What a sub-run waits for needs a person just the same; approvals are answered on the run.
      const asked = ((progress && progress.approvals) || []).concat(...subs.map((x) => (x.progress && x.progress.approvals) || []));
      const waits = ((progress && progress.waiting) || []).concat(...subs.map((x) => (x.progress && x.progress.waiting) || []));
      subRuns.hidden = subs.length === 0;
      patch(subRuns, subs, () => [h("h2", {}, "Agents at work"), subRunsTree(runId, subs)]);
      syncKeyed(approvals, asked, (a) => a.call_id, (a) => approvalItem(runId, a));
      syncKeyed(waiting, waits, (w) => w.call_id, (w) => waitingItem(runId, w));
      attention.hidden = asked.length + waits.length === 0;
      patch(tasks, [progress && progress.done, progress && progress.current_task, progress && progress.pending, run.output && run.output.tasks], () => [h("h2", {}, "Tasks"), tasksTable(progress, run.output)]);
      patch(calls, [progress && progress.tool_calls, progress && progress.usage], () => [h("h2", {}, "Tool calls"), callsTable(progress && progress.tool_calls), usageLine(progress && progress.usage)]);
      report.hidden = !run.output;
      patch(report, run.output, (output) => reportCard(output));
      if (FINISHED.has(run.status) && !timelineShown) {
        timelineShown = true;
        api("GET", "/api/runs/" + seg(runId) + "/timeline").then(
          (data) => {
            timeline.hidden = false;
            patch(timeline, data, timelineView);
          },
          (err) => {
            timelineShown = false;
            setBanner(err.message);
          },
        );
      }
      return !FINISHED.has(run.status);
    };
  const failed = (err) => {
    if (err.status === 404) {
      message.replaceChildren(h("p", { class: "error" }, "No run with id " + runId + "."));
      return false;
    }
    return pollError(err);
  };
  if (typeof EventSource === "undefined") {
    poller(token, () => api("GET", "/api/runs/" + seg(runId)), render, failed);
    return;
  }
  followRun(token, runId, liveText, render, failed);
}

// The run's event stream (GET /api/runs/{id}/events): model text appears as it is written, and
// every other event (a task, a tool call, an approval asked or decided elsewhere) reloads the run's
// view at once. EventSource reconnects by itself with Last-Event-ID, so a cut connection resumes
// exactly where it stopped; the ids received are kept on the page (data-event-ids) to show it.
function followRun(token, runId, liveText, render, failed) {
  const ids = [];
  const messages = new Map();
  let loading = null;
  let again = false;
  let source = null;
  let ended = false;
  let finished = false;
  let retryMs = STREAM_RETRY_FIRST_MS;
  const streamUrl = () => {
    const query = new URLSearchParams();
    if (state.key) query.set("code", state.key);
    if (ids.length) query.set("after", String(ids[ids.length - 1]));
    return "/api/runs/" + seg(runId) + "/events?" + query.toString();
  };
  const reload = () => {
    if (loading) {
      again = true;
      return;
    }
    loading = api("GET", "/api/runs/" + seg(runId)).then(
      (run) => {
        if (token === state.viewToken) {
          setBanner("");
          // A finished run's stream still brings the events not yet seen, then closes by itself.
          if (render(run) === false) finished = true;
        }
      },
      (err) => {
        if (token === state.viewToken && failed(err) === false) stop();
      },
    ).finally(() => {
      loading = null;
      if (again && token === state.viewToken) {
        again = false;
        reload();
      }
    });
  };
  // The view of a run that pauses (a chat between turns, a wait for a person) is asked for again
  // after its last event, so a turn that ended just after that event does not stay shown as going.
  let catchUps = [];
  const catchUp = () => {
    catchUps.forEach(clearTimeout);
    catchUps = VIEW_CATCH_UP_MS.map((ms) =>
      setTimeout(() => {
        if (!ended && token === state.viewToken) reload();
      }, ms),
    );
  };
  const stop = () => {
    ended = true;
    catchUps.forEach(clearTimeout);
    if (source) source.close();
  };
  const onMessage = (message) => {
    if (token !== state.viewToken) return stop();
    retryMs = STREAM_RETRY_FIRST_MS;
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    // A notice (events trimmed, channel away) has no id of its own: EventSource repeats the last one.
    const id = Number(message.lastEventId);
    if (message.lastEventId && (!ids.length || id > ids[ids.length - 1])) {
      ids.push(id);
      liveText.dataset.eventIds = ids.join(",");
    }
    if (event.type === "TEXT_MESSAGE_START") {
      const text = h("pre", { class: "live-message", dataset: { messageId: event.messageId } });
      messages.set(event.messageId, text);
      liveText.replaceChildren(h("div", { class: "muted" }, event.name || "model"), text);
    } else if (event.type === "TEXT_MESSAGE_CONTENT") {
      const text = messages.get(event.messageId);
      if (text) text.textContent += event.delta;
    } else if (event.type !== "TEXT_MESSAGE_END" && event.type !== "TOOL_CALL_ARGS") {
      reload();
      catchUp();
    }
    const outcome = event.outcome && event.outcome.type;
    if (event.type === "RUN_ERROR" || (event.type === "RUN_FINISHED" && outcome !== "interrupt")) {
      stop();
      // The closing event is published as the run's last step ends, a moment before its status
      // says it is finished (long on a busy host): poll the run until its view is final.
      if (!finished) poller(token, () => api("GET", "/api/runs/" + seg(runId)), render, failed);
    }
  };
  // EventSource reconnects by itself after a network error (Last-Event-ID). It gives up on an
  // HTTP error, which may be passing (an app restarting behind a proxy answers 502 or 503): ask
  // the route what it says now. A stream that is not there (no events route, events off: 4xx)
  // leaves the page polling as before; anything else is tried again, less often each time, with
  // the run's view reloaded meanwhile.
  const recover = async () => {
    if (ended || token !== state.viewToken) return;
    const probe = new AbortController();
    let status = 0;
    try {
      const headers = { accept: "text/event-stream" };
      if (state.key) headers["x-functions-key"] = state.key;
      const response = await fetch(streamUrl(), { headers, cache: "no-store", signal: probe.signal });
      status = response.status;
    } catch {
      status = 0;
    } finally {
      probe.abort();
    }
    if (ended || token !== state.viewToken) return;
    if (status >= 400 && status < 500) {
      if (finished) return stop();
      poller(token, () => api("GET", "/api/runs/" + seg(runId)), render, failed);
      return;
    }
    reload();
    setTimeout(open, status >= 200 && status < 300 ? 0 : retryMs);
    retryMs = Math.min(retryMs * 2, STREAM_RETRY_MAX_MS);
  };
  const open = () => {
    if (ended || token !== state.viewToken) return;
    source = new EventSource(streamUrl());
    source.onmessage = onMessage;
    source.onerror = () => {
      if (token !== state.viewToken) return stop();
      if (source.readyState !== EventSource.CLOSED || ended) return;
      recover();
    };
  };
  open();
  reload();
}

// ---------------------------------------------------------------- conversation

const AUTHOR_STORAGE = "toolmesh.author";

function conversationItem(message) {
  const who = message.author + (message.kind === "question" ? " asks" : "");
  const about = message.role === "person" ? h("span", { class: "muted about" }, message.status + (message.outcome ? " · " + message.outcome : "")) : null;
  return h(
    "li",
    { class: "message " + message.role + " " + (message.status || ""), dataset: { id: message.id, status: message.status || "" } },
    h("strong", { class: "who" }, who),
    " ",
    h("span", { class: "text" }, message.text),
    " ",
    about,
  );
}

// The run's conversation: everyone's messages and the agent's, a box to write in, and, while a
// chat's turn is in progress, "Stop generating". A message shows at once (greyed) and takes its
// place in the conversation once the run has it; its status says when the run has taken it.
function conversationCard(runId, token) {
  const list = h("ol", { id: "messages", class: "messages" });
  const outbox = h("ol", { id: "outbox", class: "messages" });
  const author = h("input", { id: "message-author", name: "author", placeholder: "Your name", value: localStorage.getItem(AUTHOR_STORAGE) || "" });
  const text = h("input", { id: "message-text", name: "text", placeholder: "Write to the run: a task, a change of plan, a question, or stop", autocomplete: "off" });
  const send = h("button", { type: "submit", id: "send-message" }, "Send");
  const stop = h("button", { type: "button", id: "stop-generating", class: "secondary", hidden: true }, "Stop generating");
  const error = h("p", { class: "error", id: "message-error", role: "alert", hidden: true });
  const form = h("form", { id: "message-form", class: "row" }, author, text, send, stop);
  const card = h("section", { class: "card", id: "conversation" }, h("h2", {}, "Conversation"), list, outbox, form, error);
  let loading = false;

  async function load() {
    if (loading || token !== state.viewToken) return;
    loading = true;
    try {
      let after = 0;
      let messages = [];
      for (;;) {
        const page = await api("GET", "/api/runs/" + seg(runId) + "/messages?limit=200&after=" + after);
        messages = messages.concat(page.messages || []);
        if (page.next_after === null || page.next_after === undefined) break;
        after = page.next_after;
      }
      if (token !== state.viewToken) return;
      const ids = new Set(messages.map((m) => m.id));
      [...outbox.children].forEach((el) => {
        if (ids.has(el.dataset.id)) el.remove();
      });
      patch(list, messages, (all) => all.map(conversationItem));
    } catch (err) {
      setBanner(err.message);
    } finally {
      loading = false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { author: author.value.trim(), text: text.value };
    if (!body.text.trim()) return;
    localStorage.setItem(AUTHOR_STORAGE, body.author);
    error.hidden = true;
    const item = conversationItem({ id: "", role: "person", author: body.author, text: body.text, status: "sending" });
    outbox.append(item);
    text.value = "";
    try {
      const stored = await api("POST", "/api/runs/" + seg(runId) + "/messages", body);
      item.replaceWith(conversationItem(stored)); // still greyed: pending until the run takes it
      load();
    } catch (err) {
      item.remove();
      error.hidden = false;
      error.textContent = err.message;
      text.value = body.text;
    }
  });
  stop.addEventListener("click", async () => {
    stop.disabled = true;
    try {
      await api("POST", "/api/runs/" + seg(runId) + "/abort", { author: author.value.trim() || "someone" });
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
    } finally {
      stop.disabled = false;
    }
  });

  function update(run) {
    const chat = (run.progress && run.progress.conversation) || {};
    stop.hidden = !chat.turn || FINISHED.has(run.status);
    form.hidden = FINISHED.has(run.status);
    load();
  }
  return { card, update };
}

// ---------------------------------------------------------------- new run

function viewNew(root, token) {
  const error = h("div", { id: "form-error", class: "error", role: "alert", hidden: true });
  const objective = h("textarea", { id: "objective-input", name: "objective", dataset: { field: "objective" }, placeholder: "What should the agent achieve?" });
  const initial = h("textarea", { id: "tasks-input", name: "initial_tasks", dataset: { field: "initial_tasks" }, placeholder: "Optional: one task per line" });
  const budgetInputs = BUDGETS.map(([name, label, hint]) => h("label", {}, label, h("input", { type: "text", inputmode: "numeric", name, id: "budget-" + name, dataset: { field: "budgets." + name }, placeholder: hint })));
  const model = h("input", { type: "text", name: "model", id: "model-input", dataset: { field: "model" }, placeholder: "default" });
  const toolChecks = h("div", { class: "checks", id: "tool-checks", dataset: { field: "tools" } }, h("span", { class: "muted" }, "Loading the catalog…"));
  const submit = h("button", { type: "submit", id: "start-run" }, "Start run");
  const form = h(
    "form",
    { id: "new-run-form", novalidate: true, class: "card" },
    h("label", {}, "Objective", objective),
    h("label", {}, "Initial tasks", initial),
    h("h2", {}, "Budgets"),
    h("div", { class: "budgets" }, budgetInputs),
    h("h2", {}, "Tools"),
    h("p", { class: "muted" }, "None checked: all tools."),
    toolChecks,
    h("label", {}, "Model alias", model),
    error,
    submit,
  );
  root.append(h("h1", {}, "New run"), form);

  api("GET", "/api/tools")
    .then((catalog) => {
      if (token !== state.viewToken) return;
      const tools = (catalog && catalog.tools) || [];
      toolChecks.replaceChildren(...(tools.length ? tools.map((t) => h("label", {}, h("input", { type: "checkbox", name: "tools", value: t.name }), t.name)) : [h("span", { class: "muted" }, "The catalog is empty.")]));
    })
    .catch((err) => toolChecks.replaceChildren(h("span", { class: "muted" }, "Catalog unavailable: " + err.message)));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    error.hidden = true;
    const body = { objective: objective.value.trim() };
    const lines = initial.value.split("\n").map((l) => l.trim()).filter(Boolean);
    if (lines.length) body.initial_tasks = lines;
    const budgets = {};
    for (const [name] of BUDGETS) {
      const raw = form.elements[name].value.trim();
      if (!raw) continue;
      const number = Number(raw);
      budgets[name] = Number.isInteger(number) ? number : raw; // the API names what is wrong
    }
    if (Object.keys(budgets).length) body.budgets = budgets;
    const tools = [...form.querySelectorAll("input[name=tools]:checked")].map((el) => el.value);
    if (tools.length) body.tools = tools;
    if (model.value.trim()) body.model = model.value.trim();
    submit.disabled = true;
    try {
      const created = await api("POST", "/api/runs", body);
      location.hash = "#/runs/" + seg(created.id);
    } catch (err) {
      error.hidden = false;
      error.textContent = err.status ? err.message : "Could not start the run: " + err.message;
      const target = fieldInput(form, err.field);
      if (target) {
        target.classList.add("invalid");
        target.focus();
      }
    } finally {
      submit.disabled = false;
    }
  });
  objective.focus();
}

function fieldInput(form, field) {
  if (!field) return null;
  const inputs = [...form.querySelectorAll("[data-field]")];
  const last = String(field).split(/[.\/\[\]]/).filter(Boolean).pop();
  return inputs.find((el) => el.dataset.field === field) || inputs.find((el) => el.dataset.field.split(".").pop() === last) || null;
}

// ---------------------------------------------------------------- tool catalog

function viewTools(root, token) {
  const list = h("div", { class: "card", id: "tools-list" }, h("p", { class: "muted" }, "Loading…"));
  const message = h("div", { role: "alert" });
  const reload = h("button", { type: "button", class: "secondary", id: "reload-tools" }, "Reload catalog");
  const show = (catalog) => {
    const tools = (catalog && catalog.tools) || [];
    const problems = (catalog && catalog.problems) || [];
    list.replaceChildren(
      tools.length === 0 ? h("p", { class: "muted" }, "No tools in the catalog.") : null,
      ...tools.map((tool) =>
        h(
          "div",
          { class: "tool", dataset: { tool: tool.name } },
          h("h2", {}, h("a", { href: "#/tools/" + seg(tool.name) }, tool.name), " ", h("span", { class: "muted" }, tool.base_url || "")),
          h(
            "table",
            { class: "tools-list" },
            h("thead", {}, h("tr", {}, ["Function", "Approval", "Chars", "≈Tokens", "Description"].map((c) => h("th", {}, c)))),
            h("tbody", {}, (tool.functions || []).map((f) => h("tr", {}, h("td", {}, f.name), h("td", {}, f.needs_approval ? badge("asks", "waiting") : ""), h("td", {}, f.size_chars ?? ""), h("td", {}, f.approx_tokens ?? ""), h("td", {}, oneLine(f.description, 200))))),
          ),
        ),
      ),
      problems.length ? h("div", { class: "error" }, h("strong", {}, "Problems"), h("ul", {}, problems.map((p) => h("li", {}, oneLine(p, 400))))) : null,
    );
  };
  reload.addEventListener("click", async () => {
    reload.disabled = true;
    try {
      show(await api("POST", "/api/tools/reload"));
      message.replaceChildren(h("p", { class: "notice" }, "Catalog reloaded."));
    } catch (err) {
      message.replaceChildren(h("p", { class: "error" }, err.message));
    } finally {
      reload.disabled = false;
    }
  });
  root.append(h("div", { class: "row" }, h("h1", { class: "grow" }, "Tool catalog"), reload), message, list);
  api("GET", "/api/tools")
    .then((catalog) => token === state.viewToken && show(catalog))
    .catch((err) => list.replaceChildren(h("p", { class: "error" }, err.message)));
}

function viewTool(root, token, name) {
  const body = h("div", { id: "tool-detail" }, h("p", { class: "muted" }, "Loading…"));
  root.append(h("p", {}, h("a", { href: "#/tools" }, "← all tools")), h("h1", {}, "Tool ", h("code", {}, name)), body);
  api("GET", "/api/tools/" + seg(name))
    .then((tool) => {
      if (token !== state.viewToken) return;
      body.replaceChildren(
        h("p", { class: "muted" }, tool.base_url || ""),
        ...(tool.functions || []).map((f) =>
          h("section", { class: "card", dataset: { function: f.name } }, h("h2", {}, f.name, f.needs_approval ? [" ", badge("asks for approval", "waiting")] : null), h("p", {}, f.description || ""), h("pre", {}, JSON.stringify(f.parameters ?? f, null, 2))),
        ),
      );
    })
    .catch((err) => body.replaceChildren(h("p", { class: "error" }, err.message)));
}

// ---------------------------------------------------------------- schedules

function viewSchedules(root, token) {
  const list = h("section", { class: "card", id: "schedules" });
  const cron = h("input", { type: "text", id: "schedule-cron", placeholder: "0 9 * * 1-5", "aria-label": "Cron" });
  const objective = h("input", { type: "text", id: "schedule-objective", placeholder: "Objective of each run", "aria-label": "Objective" });
  const note = h("span", { role: "status" });
  const add = h("button", { type: "submit" }, "Add schedule");
  const form = h("form", { class: "card", id: "schedule-form" }, h("h2", {}, "New schedule"), h("label", {}, "Cron ", cron), h("label", {}, "Objective ", objective), add, note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await api("POST", "/api/schedules", { cron: cron.value, run: { objective: objective.value } });
      note.className = "notice";
      note.textContent = "Schedule " + made.id + " added.";
    } catch (err) {
      note.className = "error";
      note.textContent = err.message;
    }
  });
  root.append(h("h1", {}, "Schedules"), list, form);
  const control = (id, action) => async () => {
    try {
      await api(action === "delete" ? "DELETE" : "POST", "/api/schedules/" + seg(id) + (action === "delete" ? "" : "/" + action));
      note.className = "notice";
      note.textContent = "Schedule " + id + ": " + action + " requested.";
    } catch (err) {
      note.className = "error";
      note.textContent = err.message;
    }
  };
  poller(
    token,
    () => api("GET", "/api/schedules"),
    (schedules) => {
      patch(list, schedules, () => {
        if (schedules.length === 0) return [h("p", { class: "muted" }, "No schedules yet.")];
        const heads = ["Id", "Cron", "State", "Next tick", "Runs", "Missed", "Last run", "Objective", ""];
        return h(
          "table",
          { id: "schedules-table" },
          h("thead", {}, h("tr", {}, heads.map((c) => h("th", {}, c)))),
          h(
            "tbody",
            {},
            schedules.map((s) => {
              const toggle = h("button", { type: "button", class: "secondary" }, s.paused ? "Resume" : "Pause");
              toggle.addEventListener("click", control(s.id, s.paused ? "resume" : "pause"));
              const remove = h("button", { type: "button", class: "danger" }, "Delete");
              remove.addEventListener("click", control(s.id, "delete"));
              return h(
                "tr",
                { class: "schedule", dataset: { schedule: s.id } },
                h("td", {}, s.id),
                h("td", {}, h("code", {}, s.cron)),
                h("td", {}, s.paused ? badge("paused", "waiting") : badge("active", "ok")),
                h("td", {}, s.next_tick ? when(s.next_tick) : ""),
                h("td", {}, s.runs_started ?? 0),
                h("td", {}, s.missed ?? 0),
                h("td", {}, s.last_run_id ? h("a", { href: "#/runs/" + encodeURIComponent(s.last_run_id) }, s.last_run_id) : ""),
                h("td", {}, oneLine(s.objective, 80)),
                h("td", {}, toggle, " ", remove),
              );
            }),
          ),
        );
      });
      return true;
    },
    pollError,
  );
}

// ---------------------------------------------------------------- routing

function route() {
  state.viewToken += 1;
  const token = state.viewToken;
  setBanner("");
  const root = document.getElementById("view");
  root.replaceChildren();
  const parts = (location.hash.replace(/^#\/?/, "") || "runs").split("/").map(decodeURIComponent);
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === (["tools", "new", "schedules"].includes(parts[0]) ? parts[0] : "runs")));
  if (parts[0] === "runs" && parts[1]) viewRun(root, token, parts[1]);
  else if (parts[0] === "new") viewNew(root, token);
  else if (parts[0] === "tools" && parts[1]) viewTool(root, token, parts[1]);
  else if (parts[0] === "tools") viewTools(root, token);
  else if (parts[0] === "schedules") viewSchedules(root, token);
  else viewRuns(root, token);
}

function start() {
  initKey();
  document.getElementById("key-button").addEventListener("click", () => showKeyPanel());
  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = document.getElementById("key-input").value.trim();
    if (!value) return;
    localStorage.setItem(KEY_STORAGE, value);
    state.key = value;
    document.getElementById("key-input").value = "";
    document.getElementById("key-panel").hidden = true;
    route();
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    state.key = null;
    showKeyPanel("Key forgotten. Enter a function key to continue.");
  });
  if (!state.key) showKeyPanel();
  window.addEventListener("hashchange", route);
  route();
}

start();
