/** One dimension of the upstream's budget, as the silo takes it; figures left out when not said. */
export interface UpstreamBudget {
  limit?: number;
  remaining?: number;
  resetMs?: number;
}

/** What an upstream answered, as a lease reports it to its resource (an adaptive resource learns from it). */
export interface UpstreamReport {
  status?: number;
  retryAfterMs?: number;
  requests?: UpstreamBudget;
  load?: UpstreamBudget;
}

/** Headers as `fetch` gives them, a plain object, or name-value pairs. */
export type HeadersLike = Headers | Record<string, string | string[] | undefined> | Iterable<[string, string]>;

const MAX_MS = 86_400_000;
const UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** A duration as OpenAI writes it (`1s`, `6m0s`, `1h2m3.5s`, `20ms`), in milliseconds; undefined when it is not one. */
export function parseDuration(text: string | undefined | null): number | undefined {
  if (!text || !text.trim()) return undefined;
  const value = text.trim();
  const part = /(\d+(?:\.\d+)?)([a-z]+)/g;
  let total = 0;
  let pos = 0;
  for (let match = part.exec(value); match; match = part.exec(value)) {
    if (match.index !== pos || !(match[2] in UNITS)) return undefined;
    total += Number(match[1]) * UNITS[match[2]];
    pos = match.index + match[0].length;
  }
  return pos === value.length ? total : undefined;
}

/**
 * Reads what an upstream said about its rate limits: OpenAI's and Azure OpenAI's `x-ratelimit-*` (resets as durations),
 * Anthropic's `anthropic-ratelimit-*` (resets as RFC 3339 times; input and output tokens give the tighter), the IETF's
 * `RateLimit-Policy` / `RateLimit` (and the older forms), and `retry-after` (seconds or an HTTP date) or `retry-after-ms`.
 * A figure that is missing, negative, a limit of 0 or unparsable is left out. The same rules as the .NET and Python SDKs,
 * checked against the cases they share (tests/shared/upstream-headers.json).
 */
export function parseUpstreamHeaders(status: number | undefined, headers: HeadersLike, now: Date = new Date()): UpstreamReport {
  const h = new Map<string, string>();
  // fetch's Headers and name-value pairs iterate as pairs; a plain object is read by its entries.
  const entries: Iterable<[string, unknown]> = Symbol.iterator in Object(headers)
    ? (headers as Iterable<[string, string]>)
    : Object.entries(headers as Record<string, unknown>);
  for (const [name, value] of entries) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined && first !== null && !h.has(name.toLowerCase())) h.set(name.toLowerCase(), String(first).trim());
  }
  const at = now.getTime();
  const requests = budget(h, at, 'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests')
    ?? budget(h, at, 'anthropic-ratelimit-requests-limit', 'anthropic-ratelimit-requests-remaining', 'anthropic-ratelimit-requests-reset')
    ?? ietfBudget(h);
  const load = budget(h, at, 'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens')
    ?? budget(h, at, 'anthropic-ratelimit-tokens-limit', 'anthropic-ratelimit-tokens-remaining', 'anthropic-ratelimit-tokens-reset')
    ?? tighter(budget(h, at, 'anthropic-ratelimit-input-tokens-limit', 'anthropic-ratelimit-input-tokens-remaining', 'anthropic-ratelimit-input-tokens-reset'),
      budget(h, at, 'anthropic-ratelimit-output-tokens-limit', 'anthropic-ratelimit-output-tokens-remaining', 'anthropic-ratelimit-output-tokens-reset'));
  const report: UpstreamReport = {};
  if (status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599) report.status = status;
  const retry = retryAfterMs(h, at);
  if (retry !== undefined) report.retryAfterMs = retry;
  if (requests) report.requests = requests;
  if (load) report.load = load;
  return report;
}

function budget(h: Map<string, string>, now: number, limitName: string, remainingName: string, resetName: string): UpstreamBudget | undefined {
  let limit = count(h.get(limitName));
  let remaining = count(h.get(remainingName));
  if (limit === 0) limit = undefined;
  if (limit !== undefined && remaining !== undefined && remaining > limit) remaining = undefined;
  const reset = h.has(resetName) ? resetMs(h.get(resetName)!, now) : undefined;
  return figures(limit, remaining, reset);
}

function ietfBudget(h: Map<string, string>): UpstreamBudget | undefined {
  const field = h.get('ratelimit');
  if (field === undefined) return ietf(count(h.get('ratelimit-limit')), count(h.get('ratelimit-remaining')), count(h.get('ratelimit-reset')));
  const members = structuredList(field);
  if (members.length > 0 && members.every(([item, value, params]) => ['limit', 'remaining', 'reset'].includes(item) && value !== undefined && Object.keys(params).length === 0)) {
    const d = Object.fromEntries(members.map(([item, value]) => [item, value]));
    return ietf(count(d.limit), count(d.remaining), count(d.reset));
  }
  const policies = new Map(structuredList(h.get('ratelimit-policy') ?? '').map(([item, , params]) => [item, params]));
  let tightest: UpstreamBudget | undefined;
  for (const [item, , params] of members) {
    const policy = policies.get(item) ?? {};
    if ((policy.qu ?? 'requests') !== 'requests') continue;
    tightest = tighter(tightest, ietf(count(policy.q), count(params.r), count(params.t)));
  }
  return tightest;
}

function ietf(limit: number | undefined, remaining: number | undefined, resetSeconds: number | undefined): UpstreamBudget | undefined {
  if (limit === 0) limit = undefined;
  if (limit !== undefined && remaining !== undefined && remaining > limit) remaining = undefined;
  return figures(limit, remaining, resetSeconds !== undefined ? clamp(resetSeconds * 1000) : undefined);
}

function figures(limit: number | undefined, remaining: number | undefined, resetMs: number | undefined): UpstreamBudget | undefined {
  const b: UpstreamBudget = {};
  if (limit !== undefined) b.limit = limit;
  if (remaining !== undefined) b.remaining = remaining;
  if (resetMs !== undefined) b.resetMs = resetMs;
  return Object.keys(b).length > 0 ? b : undefined;
}

/** A structured-field list (RFC 8941) as far as rate-limit fields use it: members at commas, each an item or `key=value`,
 *  then `;key=value` parameters, quotes dropped. */
function structuredList(field: string): [string, string | undefined, Record<string, string>][] {
  const keyValue = (text: string): [string, string | undefined] => {
    const eq = text.indexOf('=');
    return eq < 0 ? [text.trim().replace(/^"|"$/g, ''), undefined] : [text.slice(0, eq).trim(), text.slice(eq + 1).trim().replace(/^"|"$/g, '')];
  };
  const members: [string, string | undefined, Record<string, string>][] = [];
  for (const member of field.split(',').map(m => m.trim())) {
    if (!member) continue;
    const parts = member.split(';').map(p => p.trim());
    const [item, value] = keyValue(parts[0]);
    const params: Record<string, string> = {};
    for (const part of parts.slice(1)) {
      const [key, v] = keyValue(part);
      if (key) params[key] = v ?? '?1';
    }
    if (item) members.push([item, value, params]);
  }
  return members;
}

function tighter(a: UpstreamBudget | undefined, b: UpstreamBudget | undefined): UpstreamBudget | undefined {
  if (!a || !b) return a ?? b;
  return (b.remaining ?? Infinity) < (a.remaining ?? Infinity) ? b : a;
}

function count(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

function resetMs(text: string, now: number): number | undefined {
  const duration = parseDuration(text);
  if (duration !== undefined) return clamp(duration);
  if (text.includes('T')) {
    const at = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : text + 'Z');
    return Number.isNaN(at) ? undefined : clamp(at - now);
  }
  return undefined;
}

function retryAfterMs(h: Map<string, string>, now: number): number | undefined {
  const ms = h.get('retry-after-ms');
  if (ms !== undefined && ms !== '' && !Number.isNaN(Number(ms))) return clamp(Number(ms));
  const after = h.get('retry-after');
  if (after === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return clamp(Number(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : clamp(date - now);
}

/** Durations within what the silo takes (0 to a day); a time passed is 0, nonsense is left out. */
function clamp(ms: number): number | undefined {
  if (!Number.isFinite(ms) || ms > MAX_MS) return undefined;
  return Math.ceil(Math.max(0, ms));
}
