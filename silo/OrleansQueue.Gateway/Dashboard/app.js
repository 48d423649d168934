// The OrleansQueue dashboard: a static page that reads the silo's /v1 API with the key the user enters once (kept in this
// tab's session storage, sent as the X-Api-Key header, never in a URL). It is live through one server-sent-event feed
// (/v1/dashboard/feed), read with fetch so the key travels as a header; it never polls /stats.
// Everything that came from callers (resource names, client ids, messages) is put in the page as text, never as markup.

const KEY = 'oq-api-key';
const PRIORITIES = ['critical', 'high', 'normal', 'low', 'background'];
const STALE_MS = 5000;
const POLICY_FIELDS = [
  ['maxConcurrent', 'Max concurrent', 'leases'],
  ['requestsPerWindow', 'Requests per window', 'requests'],
  ['loadPerWindow', 'Load per window', 'tokens'],
  ['windowMs', 'Window', 'ms'],
  ['maxQueueLength', 'Max waiting', 'requests'],
  ['maxQueuedPerClient', 'Max waiting per client', 'requests'],
  ['maxQueuedPerTenant', 'Max waiting per tenant', 'requests'],
  ['defaultMaxWaitMs', 'Default max wait', 'ms'],
  ['maxWaitMs', 'Max wait', 'ms'],
  ['leaseTtlMs', 'Lease TTL', 'ms'],
  ['claimWindowMs', 'Claim window', 'ms'],
  ['agingIntervalMs', 'Aging interval', 'ms'],
  ['jobVisibilityTimeoutMs', 'Job visibility timeout', 'ms'],
  ['jobMaxAttempts', 'Job max attempts', 'attempts'],
  ['jobRetryDelayMs', 'Job retry delay', 'ms'],
  ['jobRetentionMs', 'Job retention', 'ms'],
];

const $ = (selector, root = document) => root.querySelector(selector);
const state = { session: null, feed: null, route: null, serverSkew: 0, lastEvent: 0, policy: null, policyDirty: false, selectedJob: null, resource: null };

// ---- small helpers ----

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children.flat()) el.append(c instanceof Node ? c : String(c));
  return el;
}

const number = n => n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: 2 });
function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1) return `${number(Math.round(ms * 1000))} µs`;
  if (ms < 1000) return `${number(Math.round(ms * 10) / 10)} ms`;
  if (ms < 60_000) return `${number(Math.round(ms / 100) / 10)} s`;
  if (ms < 3_600_000) return `${number(Math.round(ms / 6000) / 10)} min`;
  return `${number(Math.round(ms / 360_000) / 10)} h`;
}
const serverNow = () => Date.now() + state.serverSkew;
function ago(iso) {
  const ms = serverNow() - Date.parse(iso);
  if (ms < 1000) return 'just now';
  return `${duration(Math.round(ms / 1000) * 1000)} ago`;
}
function until(iso) {
  const ms = Date.parse(iso) - serverNow();
  if (ms <= 0) return 'now';
  return `in ${duration(Math.round(ms / 1000) * 1000)}`;
}
// Orleans names a silo "S<address>:<port>:<generation>": the address and port are what an operator recognises.
const siloName = silo => silo ? silo.replace(/^S/, '').replace(/:\d+$/, '') : '–';
const label = camel => camel.replace(/[A-Z]/g, c => ' ' + c.toLowerCase());

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { 'X-Api-Key': key, ...extra } : extra;
}

// The API is beside the page, under whatever prefix the application mounted it at: /dashboard/app.js -> /.
const BASE = new URL('../', import.meta.url).pathname;
const url = path => BASE + path.replace(/^\//, '');

async function api(method, path, body) {
  const response = await fetch(url(path), {
    method,
    headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { ok: response.ok, status: response.status, body: json };
}

// ---- sign-in ----

async function start() {
  const session = await api('POST', '/v1/dashboard/session');
  if (session.status === 401) {
    showKeyPanel(sessionStorage.getItem(KEY) ? 'That key is not accepted by this silo.' : '');
    return;
  }
  if (!session.ok) {
    showKeyPanel(session.body?.detail ?? `The silo answered ${session.status}.`);
    return;
  }
  state.session = session.body;
  document.body.classList.toggle('admin', session.body.admin);
  document.body.classList.toggle('tenant', !session.body.admin);
  $('#who').textContent = session.body.admin ? `admin (${session.body.tenant})` : `tenant ${session.body.tenant}`;
  // Orleans' own dashboard, where the silo serves one and the key may see it.
  $('#orleans-link').hidden = !session.body.orleansDashboard;
  if (session.body.orleansDashboard) $('#orleans-link').href = session.body.orleansDashboard;
  $('#sign-out').hidden = !sessionStorage.getItem(KEY);
  $('#key-panel').hidden = true;
  for (const el of document.querySelectorAll('form.admin-only')) el.hidden = !session.body.admin;
  window.addEventListener('hashchange', route);
  route();
}

function showKeyPanel(message) {
  // The feed ends with the sign-in: the next sign-in opens a new one, whatever page it lands on.
  state.feed?.abort();
  state.feed = null;
  for (const id of ['overview', 'resource']) $('#' + id).hidden = true;
  $('#key-panel').hidden = false;
  $('#key-error').textContent = message;
  setFeed('idle', 'Not signed in');
  $('#api-key').focus();
}

$('#key-form').addEventListener('submit', e => {
  e.preventDefault();
  const key = $('#api-key').value.trim();
  if (!key) { $('#key-error').textContent = 'Enter an API key.'; return; }
  sessionStorage.setItem(KEY, key);
  $('#api-key').value = '';
  start();
});

$('#sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  location.hash = '#/';
  location.reload();
});

// ---- routing and the feed ----

function route() {
  const match = /^#\/resources\/(.+)$/.exec(location.hash);
  const resource = match ? decodeURIComponent(match[1]) : null;
  $('#overview').hidden = resource !== null;
  $('#resource').hidden = resource === null;
  if (resource !== state.resource || !state.feed) {
    state.resource = resource;
    state.policy = null;
    state.policyDirty = false;
    state.selectedJob = null;
    if (resource) enterResource(resource);
    openFeed(resource);
  }
}

function setFeed(kind, text) {
  const el = $('#feed-status');
  el.className = 'feed ' + kind;
  el.textContent = text;
}

function openFeed(resource) {
  state.feed?.abort();
  const controller = new AbortController();
  state.feed = controller;
  let retry = 1000;
  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const feed = url('/v1/dashboard/feed') + (resource ? '?resource=' + encodeURIComponent(resource) : '');
        const response = await fetch(feed, { headers: headers({ Accept: 'text/event-stream' }), signal: controller.signal });
        if (response.status === 401) { showKeyPanel('The key is no longer accepted.'); return; }
        if (!response.ok) throw new Error((await response.json().catch(() => null))?.detail ?? `The feed answered ${response.status}.`);
        retry = 1000;
        await readEvents(response.body, controller.signal);
        throw new Error('The silo closed the feed.');
      } catch (error) {
        if (controller.signal.aborted) return;
        setFeed('lost', `Feed lost — reconnecting in ${Math.round(retry / 1000)} s`);
        $('#feed-status').title = String(error.message ?? error);
        await new Promise(r => setTimeout(r, retry));
        retry = Math.min(retry * 2, 15000);
      }
    }
  };
  run();
}

async function readEvents(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message', data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

function onEvent(name, data) {
  state.lastEvent = Date.now();
  setFeed('live', 'Live');
  if (name === 'overview') {
    state.serverSkew = Date.parse(data.now) - Date.now();
    renderOverview(data.resources);
    if (state.resource) {
      const row = data.resources.find(r => r.resource.name === state.resource);
      if (row) renderDefinition(row.resource);
    }
  } else if (name === 'detail') {
    $('#resource-problem').hidden = true;
    renderDetail(data);
  } else if (name === 'problem') {
    $('#resource-problem').hidden = false;
    $('#resource-problem').textContent = data.detail ?? data.title;
  }
}

// A feed that stops sending (the silo is frozen, a proxy holds the stream) is lost too, even while the connection stays open.
setInterval(() => {
  if (state.feed && state.lastEvent && Date.now() - state.lastEvent > STALE_MS && $('#feed-status').classList.contains('live'))
    setFeed('lost', `Feed lost — no update for ${Math.round((Date.now() - state.lastEvent) / 1000)} s`);
}, 1000);

// ---- the overview ----

function budgetBars(policy, stats) {
  const rows = [];
  // An adaptive resource's bars run to the limits in force (its working limits), which may be below the configured ones.
  const working = stats?.adaptive;
  const requestsLimit = working?.workingRequestsPerWindow ?? policy.requestsPerWindow;
  const loadLimit = working?.workingLoadPerWindow ?? policy.loadPerWindow;
  const add = (what, used, limit) => {
    if (!limit) return;
    const share = Math.min(1, used / limit);
    const bar = h('div', { class: 'bar' + (share >= 1 ? ' full' : share >= 0.8 ? ' high' : ''), role: 'meter', 'aria-label': what, 'aria-valuemin': 0, 'aria-valuemax': limit, 'aria-valuenow': used });
    const fill = h('span');
    fill.style.width = `${Math.round(share * 100)}%`;
    bar.append(fill);
    rows.push(h('span', { class: 'what', text: what }), bar, h('span', { class: 'num', text: `${number(used)} / ${number(limit)}` }));
  };
  if (stats) {
    add('requests', requestsLimit - (stats.requestsLeftInWindow ?? requestsLimit), requestsLimit);
    add('load', loadLimit - (stats.loadLeftInWindow ?? loadLimit), loadLimit);
    add('leases', stats.leases, working?.workingMaxConcurrent ?? policy.maxConcurrent);
  }
  return rows.length ? h('div', { class: 'budget' }, rows) : h('span', { class: 'muted', text: 'unlimited' });
}

function adaptiveBadge(a) {
  if (a.pausedUntil) return h('span', { class: 'badge paused', title: a.pauseReason ?? '', text: `paused ${until(a.pausedUntil)}` });
  const share = a.workingFactor < 1 ? ` ${Math.round(a.workingFactor * 100)}%` : '';
  return h('span', { class: 'badge', text: a.mode + share });
}

function renderUpstream(a, policy) {
  $('#upstream-card').hidden = !a;
  if (!a) return;
  $('#upstream-mode').textContent = a.mode;
  const lines = [];
  if (a.pausedUntil)
    lines.push(h('div', { class: 'paused', text: `No grant until ${new Date(a.pausedUntil).toLocaleTimeString()} (${until(a.pausedUntil)}): ${a.pauseReason}` }));
  const pairs = [['at once', a.workingMaxConcurrent, policy?.maxConcurrent], ['requests / window', a.workingRequestsPerWindow, policy?.requestsPerWindow],
    ['load / window', a.workingLoadPerWindow, policy?.loadPerWindow]].filter(([, w, c]) => c);
  if (pairs.length)
    lines.push(h('div', { text: 'Working limits: ' + pairs.map(([what, w, c]) => `${number(w)} of ${number(c)} ${what}`).join(', ') + (a.workingFactor < 1 ? ` (${Math.round(a.workingFactor * 100)}%)` : '') }));
  if (a.upstreamRequestsLeft !== undefined || a.upstreamLoadLeft !== undefined)
    lines.push(h('div', { text: 'The upstream allows ' + [a.upstreamRequestsLeft !== undefined ? `${number(a.upstreamRequestsLeft)} requests` : null,
      a.upstreamLoadLeft !== undefined ? `${number(a.upstreamLoadLeft)} load` : null].filter(Boolean).join(' and ') + (a.upstreamResetAt ? ` until its reset ${until(a.upstreamResetAt)}` : '') }));
  lines.push(h('div', { class: 'muted', text: `${number(a.throttles)} throttles (429 or retry-after) reported` }));
  $('#upstream-state').replaceChildren(...lines);
}

function limitsText(p) {
  const parts = [];
  if (p.maxConcurrent) parts.push(`${number(p.maxConcurrent)} at once`);
  if (p.requestsPerWindow) parts.push(`${number(p.requestsPerWindow)} req / ${duration(p.windowMs)}`);
  if (p.loadPerWindow) parts.push(`${number(p.loadPerWindow)} load / ${duration(p.windowMs)}`);
  return parts.length ? parts.join(', ') : 'unlimited';
}

// The jobs in hand: queued, running, retrying, dead-lettered.
const jobsInHand = ({ byState: s }) => [['queued', s.queued], ['running', s.running], ['retrying', s.retrying], ['dead', s.deadLettered]]
  .filter(([, n]) => n > 0).map(([k, n]) => `${number(n)} ${k}`);

// The jobs in hand, else how many completed, else none.
function jobsText(jobs) {
  if (!jobs) return '–';
  const inHand = jobsInHand(jobs);
  if (inHand.length) return inHand.join(', ');
  return jobs.completed > 0 ? `${number(jobs.completed)} completed` : 'none';
}

// Wait percentiles are over grants: with none since the resource was activated there is nothing to show.
const waitText = s => s.granted > 0 ? `${duration(s.waitP50Ms)} / ${duration(s.waitP99Ms)}` : '– / –';

function renderOverview(rows) {
  $('#overview-count').textContent = rows.length === 1 ? '1 resource' : `${number(rows.length)} resources`;
  $('#empty').hidden = rows.length > 0;
  $('#resources').hidden = rows.length === 0;
  const body = $('#resources tbody');
  body.replaceChildren(...rows.map(({ resource: r, stats: s, problem }) => {
    const cell = (lbl, content, cls) => h('td', { 'data-label': lbl, class: cls }, content);
    return h('tr', { 'data-resource': r.name },
      cell('Resource', h('a', { href: '#/resources/' + encodeURIComponent(r.name), text: r.name }), 'name'),
      cell('Mode', [h('span', { class: 'badge' + (r.pushEnabled ? '' : ' polling'), text: r.pushEnabled ? 'push' : 'polling only' }),
        s?.adaptive ? ' ' : null, s?.adaptive ? adaptiveBadge(s.adaptive) : null], 'mode'),
      cell('Limits', limitsText(r.policy), 'limits'),
      cell('Waiting', s ? number(s.waiting) : '–', 'num waiting'),
      cell('Leases', s ? number(s.leases) : '–', 'num leases'),
      cell('Budget', problem ? h('span', { class: 'error', text: problem }) : budgetBars(r.policy, s), 'budget-cell'),
      cell('Grants', s ? `${number(s.grantsPerSecond)} /s` : '–', 'num rate'),
      cell('Wait p50 / p99', s ? waitText(s) : '–', 'num wait'),
      cell('Jobs', jobsText(s?.jobs), 'jobs'),
      cell('Silo', siloName(s?.silo), 'silo muted'));
  }));
}

$('#create-form').addEventListener('submit', async e => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const name = form.elements.name.value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(name)) {
    showError(form, 'resource', 'A name is 1 to 128 letters, digits, dots, dashes, underscores or colons, starting with a letter or digit.');
    return;
  }
  const body = readNumbers(form, ['maxConcurrent', 'requestsPerWindow', 'loadPerWindow', 'windowMs']);
  if (!body) return;
  const answer = await api('PUT', '/v1/resources/' + encodeURIComponent(name), body);
  if (!answer.ok) { showProblem(form, answer); return; }
  form.reset();
  location.hash = '#/resources/' + encodeURIComponent(name);
});

// ---- forms: validated in the page, and the silo's problem shown beside the field it names ----

function clearErrors(form) {
  for (const el of form.querySelectorAll('[data-error-for]')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

function showError(form, field, message) {
  const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`) ?? form.querySelector('[data-error-for=""]');
  slot.textContent = message;
  const input = form.elements[field];
  if (input instanceof HTMLInputElement) {
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', slot.id || (slot.id = `error-${form.id}-${field}`));
    input.focus();
  }
}

function showProblem(form, answer) {
  const problem = answer.body ?? {};
  showError(form, problem.field ?? '', problem.detail ?? problem.title ?? `The silo answered ${answer.status}.`);
}

/** The named fields as numbers (blank: left out, so the silo's default applies), or null after showing what is wrong. */
function readNumbers(form, names) {
  const body = {};
  for (const name of names) {
    const text = form.elements[name].value.trim();
    if (text === '') continue;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      showError(form, name, `${label(name)} must be a whole number of zero or more (or blank for the default); it is "${text}".`);
      return null;
    }
    body[name] = Number(text);
  }
  return body;
}

/** "a=1, b=2" as {a: 1, b: 2}, or null after showing what is wrong. */
function readPairs(form, name, valid, what) {
  const result = {};
  const text = form.elements[name].value.trim();
  if (!text) return result;
  for (const part of text.split(',')) {
    const [key, value, extra] = part.split('=').map(s => s.trim());
    if (!key || value === undefined || extra !== undefined || !valid(value)) {
      showError(form, name, `${label(name)} are name=value pairs separated by commas, each value ${what}; "${part.trim()}" is not one.`);
      return null;
    }
    result[key] = Number(value);
  }
  return result;
}

// ---- a resource ----

function enterResource(name) {
  $('#resource-name').textContent = name;
  $('#resource-problem').hidden = true;
  $('#job-detail').hidden = true;
  const fields = $('#policy-fields');
  fields.replaceChildren(...POLICY_FIELDS.map(([name, text, unit]) => h('div', { class: 'field' },
    h('label', { for: 'policy-' + name }, text + ' ', h('span', { class: 'unit', text: unit })),
    h('input', { id: 'policy-' + name, name, inputmode: 'numeric', autocomplete: 'off' }),
    h('span', { class: 'error', 'data-error-for': name, id: 'error-policy-' + name }))));
  clearErrors($('#policy-form'));
  $('#policy-status').textContent = '';
}

function renderDefinition(view) {
  const mode = $('#resource-mode');
  mode.textContent = view.pushEnabled ? 'push' : 'polling only';
  mode.className = 'badge' + (view.pushEnabled ? '' : ' polling');
  // The form does not edit the proxy's upstream: saving keeps the one the resource has.
  state.upstream = view.policy.upstream ?? null;
  if (state.policyDirty) return;
  const json = JSON.stringify(view);
  if (json === state.policy) return;
  state.policy = json;
  const form = $('#policy-form');
  for (const [name] of POLICY_FIELDS) form.elements[name].value = view.policy[name] ?? '';
  form.elements.pushEnabled.checked = view.pushEnabled;
  form.elements.adaptive.value = view.policy.adaptive ?? 'off';
  form.elements.aimdDecrease.value = view.policy.aimdDecrease ?? '';
  form.elements.aimdIncrease.value = view.policy.aimdIncrease ?? '';
  form.elements.clientWeights.value = Object.entries(view.policy.clientWeights ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
  form.elements.minShares.value = Object.entries(view.policy.minShares ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
}

$('#policy-form').addEventListener('input', () => { state.policyDirty = true; $('#policy-status').textContent = 'Unsaved changes'; });

$('#policy-form').addEventListener('submit', async e => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const body = readNumbers(form, POLICY_FIELDS.map(([name]) => name));
  if (!body) return;
  body.pushEnabled = form.elements.pushEnabled.checked;
  body.adaptive = form.elements.adaptive.value;
  for (const name of ['aimdDecrease', 'aimdIncrease']) {
    const text = form.elements[name].value.trim();
    if (text === '') continue;
    if (!/^\d*\.?\d+$/.test(text)) { showError(form, name, `${label(name)} must be a number such as 0.7; it is "${text}".`); return; }
    body[name] = Number(text);
  }
  const weights = readPairs(form, 'clientWeights', v => /^\d+$/.test(v), 'a whole number');
  const shares = readPairs(form, 'minShares', v => /^\d*\.?\d+$/.test(v), 'a share such as 0.05');
  if (!weights || !shares) return;
  if (Object.keys(weights).length) body.clientWeights = weights;
  if (Object.keys(shares).length) body.minShares = shares;
  if (state.upstream) body.upstream = state.upstream;
  $('#policy-status').textContent = 'Saving…';
  const answer = await api('PUT', '/v1/resources/' + encodeURIComponent(state.resource), body);
  if (!answer.ok) { $('#policy-status').textContent = ''; showProblem(form, answer); return; }
  state.policyDirty = false;
  state.policy = null;
  renderDefinition(answer.body);
  $('#policy-status').textContent = 'Saved';
});

$('#delete-resource').addEventListener('click', () => {
  $('#confirm-name').textContent = state.resource;
  $('#confirm-delete').showModal();
});

$('#confirm-delete').addEventListener('close', async () => {
  if ($('#confirm-delete').returnValue !== 'delete') return;
  const answer = await api('DELETE', '/v1/resources/' + encodeURIComponent(state.resource));
  if (!answer.ok && answer.status !== 404) { showProblem($('#policy-form'), answer); return; }
  location.hash = '#/';
});

function renderDetail(d) {
  const s = d.stats;
  $('#resource-silo').textContent = s.silo ? `on silo ${siloName(s.silo)}` : '';
  $('#stat-waiting').textContent = number(s.waiting);
  $('#stat-leases').textContent = number(s.leases);
  $('#stat-leased-load').textContent = `${number(s.leasedLoad)} load held`;
  $('#stat-rate').textContent = `${number(s.grantsPerSecond)} /s`;
  $('#stat-wait').textContent = waitText(s);
  $('#stat-wait-more').textContent = `p90 ${duration(s.waitP90Ms)}, max ${duration(s.waitMaxMs)}; ${number(s.granted)} granted in all`;
  const policy = state.policy ? JSON.parse(state.policy).policy : null;
  $('#stat-budget').replaceChildren(policy ? budgetBars(policy, s) : h('span', { class: 'muted', text: '–' }));
  renderUpstream(s.adaptive, policy);
  renderWaiting(s);
  renderTimeline(d.timeline, d.timelineBucketMs);
  renderLeases(d.leases, s.leases);
  renderEvents(d.events);
  renderJobs(d.jobs, s.jobs);
}

const PRIORITY_COLOURS = ['var(--p0)', 'var(--p1)', 'var(--p2)', 'var(--p3)', 'var(--p4)'];
const CLIENT_COLOURS = ['#2357c6', '#1f8a4c', '#b86e00', '#7a1fa2', '#1f8a8a', '#c23030', '#5d6778', '#a0527d'];

function stackedBar(title, parts) {
  const total = parts.reduce((sum, p) => sum + p.value, 0);
  const bar = h('div', { class: 'stack', role: 'img', 'aria-label': `${title}: ` + (parts.map(p => `${p.label} ${p.value}`).join(', ') || 'none') });
  for (const p of parts) {
    if (!p.value) continue;
    const piece = h('span', { title: `${p.label}: ${number(p.value)}` });
    piece.style.width = `${(p.value / total) * 100}%`;
    piece.style.background = p.colour;
    bar.append(piece);
  }
  const legend = h('div', { class: 'legend' }, parts.filter(p => p.value).map(p => {
    const swatch = h('i');
    swatch.style.background = p.colour;
    return h('span', {}, swatch, `${p.label} ${number(p.value)}`);
  }));
  return [h('div', { class: 'muted', text: `${title} (${number(total)} waiting)` }), bar, legend];
}

function renderWaiting(s) {
  const byPriority = PRIORITIES.map((p, i) => ({ label: p, value: s.waitingByPriority[p] ?? 0, colour: PRIORITY_COLOURS[i] }));
  const clients = Object.entries(s.waitingByClient).sort((a, b) => b[1] - a[1]);
  const top = clients.slice(0, 7).map(([c, n], i) => ({ label: c, value: n, colour: CLIENT_COLOURS[i] }));
  const rest = clients.slice(7).reduce((sum, [, n]) => sum + n, 0);
  if (rest) top.push({ label: `${clients.length - 7} more clients`, value: rest, colour: CLIENT_COLOURS[7] });
  // A tenant sees its own clients by name; the rest of the waitlist only as a number.
  const others = s.waiting - clients.reduce((sum, [, n]) => sum + n, 0);
  if (others > 0) top.push({ label: "other tenants' clients", value: others, colour: '#c9ced6' });
  $('#waiting-chart').replaceChildren(...stackedBar('By priority', byPriority), ...stackedBar('By client', top));
}

function renderTimeline(buckets, bucketMs) {
  const width = 720, height = 150, top = 8, bottom = 18;
  const max = Math.max(1, ...buckets.map(b => b.granted + b.rejected + b.expired));
  const w = width / buckets.length;
  const scale = (height - top - bottom) / max;
  const chart = svg('svg', { class: 'timeline', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img',
    'aria-label': `Grants and refusals per ${duration(bucketMs)}, last ${buckets.length} slices` });
  buckets.forEach((b, i) => {
    let y = height - bottom;
    for (const [kind, n] of [['granted', b.granted], ['rejected', b.rejected], ['expired', b.expired]]) {
      if (!n) continue;
      const hgt = n * scale;
      y -= hgt;
      chart.append(svg('rect', { class: kind, x: i * w + 0.5, y, width: Math.max(1, w - 1), height: hgt },
        svg('title', {}, `${new Date(b.start).toLocaleTimeString()}: ${n} ${kind}`)));
    }
  });
  chart.append(svg('text', { x: 2, y: height - 4 }, `${duration(bucketMs * buckets.length)} ago`));
  chart.append(svg('text', { x: width - 2, y: height - 4, 'text-anchor': 'end' }, 'now'));
  chart.append(svg('text', { x: 2, y: top + 8 }, `${number(max)} per ${duration(bucketMs)}`));
  const sums = buckets.reduce((a, b) => ({ g: a.g + b.granted, r: a.r + b.rejected, e: a.e + b.expired }), { g: 0, r: 0, e: 0 });
  const legend = h('div', { class: 'legend' },
    ...[['Granted', sums.g, 'var(--ok)'], ['Refused or timed out', sums.r, 'var(--bad)'], ['Expired or reclaimed', sums.e, 'var(--warn)']].map(([t, n, c]) => {
      const swatch = h('i');
      swatch.style.background = c;
      return h('span', {}, swatch, `${t} ${number(n)}`);
    }));
  $('#timeline-chart').replaceChildren(chart, legend);
}

function renderLeases(leases, total) {
  $('#leases-count').textContent = `(${number(leases.length)})`;
  $('#leases-empty').hidden = leases.length > 0;
  $('#leases-empty').textContent = total > 0 ? `${number(total)} ${total === 1 ? 'lease' : 'leases'} held, none by your clients.` : 'No lease is held.';
  $('#leases').hidden = leases.length === 0;
  $('#leases tbody').replaceChildren(...leases.map(l => h('tr', { 'data-lease': l.id },
    h('td', { class: 'num', text: l.id }),
    h('td', { class: 'client', text: l.clientId }),
    h('td', { class: 'num', text: number(l.load) }),
    h('td', { text: l.priority }),
    h('td', { class: 'num', text: l.fencingToken }),
    h('td', { text: ago(l.grantedAt).replace(' ago', '') }),
    h('td', { text: until(l.expiresAt) }),
    h('td', { text: l.isJob ? 'running job' : l.claimed ? 'held' : 'granted, not claimed' }))));
}

function renderEvents(events) {
  $('#events-empty').hidden = events.length > 0;
  $('#events').replaceChildren(...events.slice(0, 100).map(e => h('li', { class: e.kind },
    h('span', { class: 'when', text: ago(e.at) }),
    h('span', { class: 'kind', text: label(e.kind) }),
    h('span', { class: 'who', text: (e.kind === 'throttled' ? 'the upstream' : `${e.clientId} · load ${number(e.load)} · ${e.priority}`) + (e.requestId ? ` · #${e.requestId}` : '') }),
    e.reason || e.detail ? h('span', { class: 'detail', text: [e.reason ? label(e.reason) : null, e.detail].filter(Boolean).join(': ') }) : null)));
}

function renderJobs(jobs, figures) {
  const inHand = figures ? jobsInHand(figures) : [];
  $('#jobs-summary').textContent = !figures ? '' : inHand.length ? `(${inHand.join(', ')}; ${number(figures.completed)} completed in all)` : `(${jobsText(figures)})`;
  $('#jobs-empty').hidden = jobs.length > 0;
  $('#jobs').hidden = jobs.length === 0;
  $('#jobs tbody').replaceChildren(...jobs.map(j => {
    const progress = j.progress === null || j.progress === undefined ? '' : h('span', {},
      h('progress', { class: 'progress', max: 1, value: j.progress }), ` ${Math.round(j.progress * 100)}%`);
    const tr = h('tr', { class: 'selectable', tabindex: 0, 'data-job': j.id, 'aria-selected': String(state.selectedJob === j.id) },
      h('td', { class: 'num', text: j.id }),
      h('td', { text: label(j.state) }),
      h('td', { text: j.clientId }),
      h('td', {}, progress),
      h('td', { class: 'num', text: `${j.attempts} / ${j.maxAttempts}` }),
      h('td', { text: j.enqueuedAt ? ago(j.enqueuedAt) : '–' }));
    const select = () => { state.selectedJob = j.id; showJob(j); };
    tr.addEventListener('click', select);
    tr.addEventListener('keydown', e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(); } });
    return tr;
  }));
  const selected = jobs.find(j => j.id === state.selectedJob);
  if (selected) showJob(selected);
}

function showJob(j) {
  const rows = [
    ['Job', j.id], ['State', label(j.state)], ['Client', j.clientId], ['Priority', j.priority], ['Load', number(j.load)],
    ['Attempts', `${j.attempts} of ${j.maxAttempts}`], ['Worker', j.workerId], ['Progress', j.progress !== null && j.progress !== undefined ? `${Math.round(j.progress * 100)}%` : null],
    ['Message', j.progressMessage], ['Enqueued', j.enqueuedAt ? ago(j.enqueuedAt) : null], ['Started', j.startedAt ? ago(j.startedAt) : null],
    ['Finished', j.finishedAt ? ago(j.finishedAt) : null], ['Visible until', j.visibleUntil ? until(j.visibleUntil) : null],
    ['Error', j.error], ['Result', j.result !== null && j.result !== undefined ? JSON.stringify(j.result) : null],
  ].filter(([, v]) => v !== null && v !== undefined && v !== '');
  const panel = $('#job-detail');
  panel.hidden = false;
  panel.replaceChildren(h('h2', { text: `Job ${j.id}` }), h('dl', {}, rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })])));
}

start();
