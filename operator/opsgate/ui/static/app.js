// OpsGate's chat page. Every text from a request, the LLM or the API server is set with
// textContent (never parsed as HTML): what a user typed shows as typed, a <script> included.
"use strict";

const state = { csrf: "", user: "" };
const $ = (id) => document.getElementById(id);

async function api(method, url, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRF-Token"] = state.csrf;
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  let data = {};
  try { data = await response.json(); } catch (_) { /* an empty or non-JSON answer */ }
  if (!response.ok) {
    const error = new Error(data.error || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function text(element, value) { element.textContent = value == null ? "" : String(value); return element; }

function fact(list, term, value) {
  if (value == null || value === "") return;
  list.append(text(document.createElement("dt"), term), text(document.createElement("dd"), value));
}

function items(container, values, render) {
  const list = container.querySelector("ul");
  list.replaceChildren(...values.map((value) => { const li = document.createElement("li"); render(li, value); return li; }));
  container.hidden = values.length === 0;
}

// --- who am I -------------------------------------------------------------------------------

async function signIn() {
  try {
    const session = await api("GET", "/api/session");
    state.csrf = session.csrfToken;
    state.user = session.user;
    text($("who"), `Signed in as ${session.user}`);
    return true;
  } catch (error) {
    text($("who"), "Not signed in");
    text($("signed-out-reason"), error.message);
    $("signed-out").hidden = false;
    $("send").disabled = true;
    text($("approvals-note"), "Sign in to see approvals.");
    return false;
  }
}

// --- asking and following a request -----------------------------------------------------------

function renderRequest(card, view) {
  const phase = card.querySelector(".phase");
  text(phase, view.phase);
  phase.className = `phase tone-${view.tone}`;
  card.dataset.phase = view.phase;
  text(card.querySelector(".name"), `${view.namespace}/${view.name}`);
  text(card.querySelector(".text"), view.request);
  text(card.querySelector(".message"), view.message || (view.final ? "" : "working on it…"));
  const facts = card.querySelector(".facts");
  facts.replaceChildren();
  if (view.intent) {
    const intent = [view.intent.category, view.intent.action, view.intent.resource_type].filter(Boolean).join(".");
    fact(facts, "intent", intent ? `${intent} (confidence ${view.intent.confidence ?? "?"}, ${view.intent.parser || "?"})` : "not recognised");
  }
  if (view.plan) {
    fact(facts, "action", view.plan.action);
    for (const [key, value] of Object.entries(view.plan.parameters || {})) fact(facts, key, typeof value === "string" ? value : JSON.stringify(value));
  }
  if (view.policy && view.policy.decision) fact(facts, "decision", view.policy.decision);
  if (view.approval) {
    const decided = (view.steps || []).find((step) => step.type === "Approved");
    fact(facts, "approval", `${view.approval.state || "Pending"}${decided && decided.message ? `: ${decided.message}` : ""} (${view.approval.name})`);
  }
  if (view.job) fact(facts, "job", view.job.name);
  if (view.result) fact(facts, "result", view.result.summary || JSON.stringify(view.result));
  const answer = card.querySelector(".answer");
  answer.hidden = !view.answer;
  text(card.querySelector(".answer-text"), view.answer);
  items(card.querySelector(".sources"), view.context || [], (li, c) => text(li, `${c.source} (score ${Number(c.score).toFixed(2)})`));
  const results = (view.policy && view.policy.results) || [];
  items(card.querySelector(".policies"), results.filter((r) => r.result !== "pass"), (li, r) => {
    li.className = `result-${r.result}`;
    text(li, `${r.policy}: ${r.result} — ${r.message}`);
  });
  card.querySelector(".feedback").hidden = !view.final;
}

// A browser holds about six connections per server, and each live stream keeps one: follow at
// most MAX_LIVE requests live, and let the oldest one go (its card offers a refresh) past that.
const MAX_LIVE = 3;
const live = [];

function stopFollowing(entry, why) {
  entry.stream.close();
  const at = live.indexOf(entry);
  if (at >= 0) live.splice(at, 1);
  if (why) {
    text(entry.card.querySelector(".message"), why);
    entry.card.querySelector(".refresh").hidden = false;
  }
}

function follow(card, view) {
  renderRequest(card, view);
  card.querySelector(".refresh").hidden = true;
  if (view.final) return;
  const stream = new EventSource(`/api/requests/${encodeURIComponent(view.namespace)}/${encodeURIComponent(view.name)}/events`);
  const entry = { card, stream };
  live.push(entry);
  if (live.length > MAX_LIVE) stopFollowing(live[0], "No longer followed live (too many at once): press Refresh.");
  stream.addEventListener("progress", (event) => renderRequest(card, JSON.parse(event.data)));
  stream.addEventListener("end", () => stopFollowing(entry));
  stream.addEventListener("failure", (event) => stopFollowing(entry, JSON.parse(event.data).error));
}

async function refresh(card, view) {
  try {
    follow(card, await api("GET", `/api/requests/${encodeURIComponent(view.namespace)}/${encodeURIComponent(view.name)}`));
  } catch (error) {
    text(card.querySelector(".message"), error.message);
  }
}

function newCard(view) {
  const card = $("request-card").content.firstElementChild.cloneNode(true);
  card.querySelector(".feedback").addEventListener("submit", (event) => sendFeedback(event, card, view));
  card.querySelector(".refresh").addEventListener("click", () => refresh(card, view));
  $("requests").prepend(card);
  $("no-requests").hidden = true;
  return card;
}

async function ask(event) {
  event.preventDefault();
  const button = $("send");
  const request = $("request-text").value.trim();
  if (!request) return;
  button.disabled = true;
  text($("ask-error"), "");
  try {
    await showNamespace();
    const view = await api("POST", "/api/requests", { request, namespace: shown });
    follow(newCard(view), view);
    $("request-text").value = "";
  } catch (error) {
    text($("ask-error"), error.message);
  } finally {
    button.disabled = false;
    $("request-text").focus();
  }
}

async function sendFeedback(event, card, view) {
  event.preventDefault();
  const form = event.target;
  const body = { namespace: view.namespace, name: view.name };
  if (form.score.value) body.score = Number(form.score.value);
  if (form.intentCorrect.value) body.intentCorrect = form.intentCorrect.value === "true";
  if (form.correctedIntent.value.trim()) body.correctedIntent = form.correctedIntent.value.trim();
  const result = form.querySelector(".feedback-result");
  try {
    await api("POST", "/api/v1/feedback", body);
    text(result, "Thank you: feedback recorded.");
  } catch (error) {
    text(result, error.message);
  }
}

// Your requests in the namespace survive a reload: the server lists them (as you), newest first.
const NAMESPACE_KEY = "opsgate.namespace";

let shown = null;
let showing = Promise.resolve();

// Show the namespace's requests once per namespace: asking waits for the list, so a new card is
// never wiped by a list that was still on its way.
function showNamespace() {
  const namespace = $("namespace").value.trim();
  if (namespace !== shown) {
    shown = namespace;
    showing = loadMine(namespace);
  }
  return showing;
}

async function loadMine(namespace) {
  localStorage.setItem(NAMESPACE_KEY, namespace);
  while (live.length) stopFollowing(live[0]);
  $("requests").replaceChildren();
  $("no-requests").hidden = false;
  try {
    const answer = await api("GET", `/api/requests?namespace=${encodeURIComponent(namespace)}`);
    for (const view of answer.requests.slice().reverse()) follow(newCard(view), view);  // oldest first: newest on top, live
  } catch (error) {
    text($("ask-error"), error.message);
  }
}

// --- approvals ------------------------------------------------------------------------------------

function approvalCard(approval) {
  const card = $("approval-card").content.firstElementChild.cloneNode(true);
  card.dataset.approval = approval.name;
  text(card.querySelector(".name"), `${approval.namespace}/${approval.name}`);
  text(card.querySelector(".text"), approval.request);
  const facts = card.querySelector(".facts");
  fact(facts, "requested by", approval.requester);
  fact(facts, "action", `${approval.action} — ${approval.description}`);
  fact(facts, "environment", approval.environment || "(none stated)");
  fact(facts, "risk", approval.risk);
  fact(facts, "runs", approval.executor);
  for (const [key, value] of Object.entries(approval.parameters || {})) fact(facts, key, typeof value === "string" ? value : JSON.stringify(value));
  fact(facts, "needs", `${approval.requiredApprovals} approval(s) from ${approval.approverGroups.join(", ")}`);
  fact(facts, "expires", approval.expiresAt);
  items(card.querySelector(".policies"), approval.policy, (li, line) => text(li, line));
  items(card.querySelector(".warnings"), approval.warnings, (li, line) => text(li, line));
  const form = card.querySelector(".decide");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const decision = event.submitter ? event.submitter.value : "Approve";
    form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      await api("POST", `/api/approvals/${encodeURIComponent(approval.namespace)}/${encodeURIComponent(approval.name)}`,
        { decision, message: form.message.value });
      text(form.querySelector(".decide-result"), `${decision} recorded.`);
      form.querySelector(".decide-result").style.color = "var(--ok)";
      setTimeout(loadApprovals, 1500);
    } catch (error) {
      text(form.querySelector(".decide-result"), error.message);
      form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  });
  return card;
}

async function loadApprovals() {
  try {
    const answer = await api("GET", "/api/approvals");
    $("approvals").replaceChildren(...answer.approvals.map(approvalCard));
    text($("approvals-note"), answer.note || (answer.approvals.length ? "" : "Nothing is waiting for you."));
  } catch (error) {
    text($("approvals-note"), error.message);
  }
}

// --- start ----------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  $("ask").addEventListener("submit", ask);
  $("request-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); $("ask").requestSubmit(); }
  });
  $("refresh-approvals").addEventListener("click", loadApprovals);
  const remembered = localStorage.getItem(NAMESPACE_KEY);
  if (remembered) $("namespace").value = remembered;
  $("namespace").addEventListener("change", showNamespace);
  if (await signIn()) {
    await showNamespace();
    await loadApprovals();
    setInterval(loadApprovals, 5000);
  }
});
