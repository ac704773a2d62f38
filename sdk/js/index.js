// sluice-policy: write sluice decision policies in JavaScript or TypeScript.
//
// The WIT's values as componentize-js passes them: records are objects with camelCase
// fields, variants `{ tag, val }`, enums kebab-case strings, `option<T>` is `T` or
// `undefined`, and 64-bit integers (u64, s64) are BigInt. This module hides the last
// two where a policy reads parameters and builds decisions; see index.d.ts.
import * as wasiStats from 'sluice:policy/stats@0.1.0';
import { log as hostLog } from 'sluice:policy/log@0.1.0';

/** The decision points: point name -> exported interface name (camelCase). */
export const POINTS = {
  retrain: 'decideRetrain',
  promotion: 'decidePromotion',
  regression: 'decideRegression',
  rollout: 'decideRollout',
};

const MAX_NAME = 64;
const MAX_SUMMARY = 1024;
const MAX_PARAMS = 64;

// --- numbers printed as the Rust SDK prints them -------------------------------------

/** `value` as Rust's `{}` prints it (`250` for 250.0, no exponent, `NaN`, `inf`). */
export function display(value) {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return '[' + value.map(debugItem).join(', ') + ']';
  if (typeof value !== 'number') return String(value);
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (Object.is(value, -0)) return '-0';
  const text = String(value);
  return /e/i.test(text) ? expandExponent(text) : text;
}

function debugItem(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  return display(value);
}

function expandExponent(text) {
  const negative = text.startsWith('-');
  const [mantissa, exp] = text.replace('-', '').split(/e/i);
  const e = Number(exp);
  const [intPart, frac = ''] = mantissa.split('.');
  let digits = intPart + frac;
  let point = intPart.length + e;
  let out;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return (negative ? '-' : '') + out;
}

const EXACT_LIMIT = 1e15;

/** `value` with `decimals` (≤ 9) digits after the point, rounded half away from
 * zero: the Rust SDK's `fixed`, digit for digit. */
export function fixed(value, decimals) {
  const digits = Math.max(0, Math.min(Math.trunc(decimals), 9));
  const v = Number(value);
  const magnitude = Math.abs(v);
  if (!Number.isFinite(magnitude) || magnitude >= EXACT_LIMIT) return coreFixed(v, digits);
  const scaledF = magnitude * 10 ** digits + 0.5;
  if (scaledF >= EXACT_LIMIT * 10) return coreFixed(v, digits);
  const scaled = BigInt(Math.floor(scaledF));
  const scale = 10n ** BigInt(digits);
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const whole = (scaled / scale).toString();
  if (digits === 0) return sign + whole;
  return `${sign}${whole}.${(scaled % scale).toString().padStart(digits, '0')}`;
}

function coreFixed(v, digits) {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return v.toFixed(digits);
}

/** A BigInt (as the host sends u64/s64) or number as a number; throws beyond 2^53. */
export function num(value) {
  if (typeof value === 'number') return value;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`${value} does not fit a JavaScript number exactly`);
  return n;
}

// --- parameters ----------------------------------------------------------------------

/** A parameter is missing or has the wrong type; the message names it. */
export class ParamError extends Error {}

const MISSING = Symbol('missing');

/** Typed access to a decision's parameters. Given a default, a getter returns it when
 * the value is missing or does not convert; without one it throws `ParamError`. */
export class Params {
  constructor(params = []) {
    this.values = new Map(params.map((p) => [p.name, p.value]));
  }
  raw(name) { return this.values.get(name); }
  names() { return [...this.values.keys()]; }
  get(name, fallback, expected, convert) {
    const v = this.values.get(name);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new ParamError(`parameter \`${name}\`: not set and no default declared`);
    }
    const out = convert(v);
    if (out === MISSING) {
      if (fallback !== undefined) return fallback;
      throw new ParamError(`parameter \`${name}\`: expected ${expected}, found ${v.tag}`);
    }
    return out;
  }
  boolean(name, fallback) { return this.get(name, fallback, 'boolean', (v) => (v.tag === 'boolean' ? v.val : MISSING)); }
  integer(name, fallback) { return this.get(name, fallback, 'integer', (v) => (v.tag === 'integer' ? safe(v.val) : MISSING)); }
  /** A non-negative integer or a duration (Rust's `u64`). */
  unsigned(name, fallback) {
    return this.get(name, fallback, 'non-negative integer or duration', (v) => {
      if (v.tag === 'duration') return safe(v.val);
      if (v.tag === 'integer' && v.val >= 0n) return safe(v.val);
      return MISSING;
    });
  }
  float(name, fallback) {
    return this.get(name, fallback, 'float', (v) => {
      if (v.tag === 'float') return v.val;
      if (v.tag === 'integer') return Number(v.val);
      return MISSING;
    });
  }
  text(name, fallback) { return this.get(name, fallback, 'text', (v) => (v.tag === 'text' ? v.val : MISSING)); }
  duration(name, fallback) { return this.get(name, fallback, 'duration', (v) => (v.tag === 'duration' ? safe(v.val) : MISSING)); }
  integerList(name, fallback) {
    return this.get(name, fallback, 'integer list', (v) => {
      if (v.tag !== 'integer-list') return MISSING;
      const out = Array.from(v.val, safe);
      return out.includes(MISSING) ? MISSING : out;
    });
  }
  floatList(name, fallback) {
    return this.get(name, fallback, 'float list', (v) => {
      if (v.tag === 'float-list') return Array.from(v.val);
      if (v.tag === 'integer-list') return Array.from(v.val, Number);
      return MISSING;
    });
  }
  textList(name, fallback) { return this.get(name, fallback, 'text list', (v) => (v.tag === 'text-list' ? Array.from(v.val) : MISSING)); }
}

function safe(value) {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : MISSING;
}

function spec(kind, name, fallback, doc, wrap) {
  return { name, kind, default: fallback === undefined || fallback === null ? undefined : { tag: kind, val: wrap(fallback) }, doc };
}

/** Parameter declarations; `default` undefined (or null) makes it required. */
export const param = {
  boolean: (name, fallback, doc) => spec('boolean', name, fallback, doc, Boolean),
  integer: (name, fallback, doc) => spec('integer', name, fallback, doc, BigInt),
  float: (name, fallback, doc) => spec('float', name, fallback, doc, Number),
  text: (name, fallback, doc) => spec('text', name, fallback, doc, String),
  duration: (name, fallback, doc) => spec('duration', name, fallback, doc, BigInt),
  integerList: (name, fallback, doc) => spec('integer-list', name, fallback, doc, (xs) => xs.map(BigInt)),
  floatList: (name, fallback, doc) => spec('float-list', name, fallback, doc, (xs) => xs.map(Number)),
  textList: (name, fallback, doc) => spec('text-list', name, fallback, doc, (xs) => xs.map(String)),
};

// --- decisions -----------------------------------------------------------------------

/** Retrain: do nothing this tick. */
export const wait = (reason) => ({ tag: 'wait', val: String(reason) });
/** Retrain: dispatch a training Job; `args` are appended to its command. */
export function train(reason, args = []) {
  if (args.length > 32 || args.some((a) => new TextEncoder().encode(String(a)).length > 1024)) {
    throw new RangeError('train: at most 32 args of at most 1024 bytes each');
  }
  return { tag: 'train', val: { reason: String(reason), args: args.map(String) } };
}
/** Promotion: commit the candidate's version. */
export const promote = (reason) => ({ tag: 'promote', val: String(reason) });
/** Promotion: discard the candidate. */
export const reject = (reason) => ({ tag: 'reject', val: String(reason) });
/** Promotion: wait for an operator. */
export const awaitApproval = (reason) => ({ tag: 'await-approval', val: String(reason) });
/** Rollout: shift traffic to `weight` %. */
export function advance(weight, reason) {
  const w = num(weight);
  if (!Number.isInteger(w) || w < 0 || w > 100) throw new RangeError(`advance: weight must be 0..=100, got ${weight}`);
  return { tag: 'advance', val: { weight: w, reason: String(reason) } };
}
/** Rollout: stay at this weight. */
export const hold = (reason) => ({ tag: 'hold', val: String(reason) });
/** Rollout: all traffic back to stable, then revert Git. */
export const rollback = (reason) => ({ tag: 'rollback', val: String(reason) });
/** Rollout: the candidate becomes stable. */
export const complete = (reason) => ({ tag: 'complete', val: String(reason) });

const VERDICTS = ['pass', 'regressed', 'inconclusive'];

/** Regression: one metric's verdict with its statistics (an object or [name, value] pairs, in order). */
export function metricVerdict(name, verdict, reason, statistics = []) {
  if (!VERDICTS.includes(verdict)) throw new RangeError(`verdict must be ${VERDICTS.join(', ')}, got ${verdict}`);
  const pairs = Array.isArray(statistics) ? statistics : Object.entries(statistics);
  return { name: String(name), verdict, reason: String(reason), statistics: pairs.map(([n, v]) => ({ name: String(n), value: Number(v) })) };
}
/** Regression: the overall verdict and one `metricVerdict` per window. */
export function regressionDecision(overall, reason, metrics) {
  if (!VERDICTS.includes(overall)) throw new RangeError(`verdict must be ${VERDICTS.join(', ')}, got ${overall}`);
  return { overall, reason: String(reason), metrics };
}

// --- host imports --------------------------------------------------------------------

const floats = (xs) => Float64Array.from(xs, Number);

/** The host's statistics: the same numbers a Rust policy gets. */
export const stats = {
  iqr: (k = 1.5) => ({ tag: 'iqr', val: Number(k) }),
  mad: (threshold = 3.5) => ({ tag: 'mad', val: Number(threshold) }),
  noFilter: () => ({ tag: 'none' }),
  compare: (a, b, filter = { tag: 'iqr', val: 1.5 }, test = 'welch', alternative = 'two-sided') =>
    wasiStats.compare(floats(a), floats(b), filter, test, alternative),
  summarize: (xs) => wasiStats.summarize(floats(xs)),
  welchTTest: (a, b, alternative = 'two-sided') => wasiStats.welchTTest(floats(a), floats(b), alternative),
  mannWhitneyU: (a, b, alternative = 'two-sided') => wasiStats.mannWhitneyU(floats(a), floats(b), alternative),
  cohensD: (a, b) => wasiStats.cohensD(floats(a), floats(b)),
  meanConfidenceInterval: (xs, level = 0.95) => wasiStats.meanConfidenceInterval(floats(xs), Number(level)),
  filterOutliersIqr: (xs, k = 1.5) => Array.from(wasiStats.filterOutliersIqr(floats(xs), Number(k))),
  filterOutliersMad: (xs, t = 3.5) => Array.from(wasiStats.filterOutliersMad(floats(xs), Number(t))),
};

/** The host's log. */
export const log = {
  log: (level, m) => hostLog(level, String(m)),
  debug: (m) => hostLog('debug', String(m)),
  info: (m) => hostLog('info', String(m)),
  warn: (m) => hostLog('warn', String(m)),
  error: (m) => hostLog('error', String(m)),
};

// --- the policy ----------------------------------------------------------------------

/** One policy: what it is, its parameters, how it decides. */
export class Policy {
  constructor({ point, name, version, summary, params = [] }) {
    if (!(point in POINTS)) throw new RangeError(`point must be one of ${Object.keys(POINTS).join(', ')}, got ${point}`);
    const bytes = (s) => new TextEncoder().encode(String(s)).length;
    const problems = [];
    if (!name || bytes(name) > MAX_NAME) problems.push(`name must be 1..=${MAX_NAME} bytes`);
    if (!version || bytes(version) > MAX_NAME) problems.push(`version must be 1..=${MAX_NAME} bytes`);
    if (bytes(summary) > MAX_SUMMARY) problems.push(`summary must be at most ${MAX_SUMMARY} bytes`);
    if (params.length > MAX_PARAMS) problems.push(`at most ${MAX_PARAMS} parameters`);
    const names = params.map((p) => p.name);
    for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i))) problems.push(`parameter \`${dup}\` is declared twice`);
    if (problems.length) throw new RangeError(`policy ${name}: ${problems.join('; ')}`);
    Object.assign(this, { point, name, version, summary, params });
    this.decideFn = undefined;
    this.validateFn = undefined;
  }
  /** Registers `fn(ctx, params) -> decision`; returns the policy. */
  decide(fn) { this.decideFn = fn; return this; }
  /** Registers `fn(params) -> string[]` (problems; empty means valid); returns the policy. */
  validate(fn) { this.validateFn = fn; return this; }
  description() {
    return { name: this.name, version: this.version, summary: this.summary, params: this.params };
  }
  /** The two exported interfaces: `{ selfDescription, decideRetrain }` for a retrain policy. */
  exports() {
    if (!this.decideFn) throw new TypeError(`policy ${this.name} registers no decide function (policy.decide(fn))`);
    const guarded = (what, fn) => (...args) => {
      try {
        return fn(...args);
      } catch (e) {
        log.error(`${this.name}: ${what} threw: ${e && e.stack ? e.stack : e}`);
        throw e;
      }
    };
    return {
      selfDescription: {
        describe: () => this.description(),
        validateParams: guarded('validate', (params) => (this.validateFn ? this.validateFn(new Params(params)).map(String) : [])),
      },
      [POINTS[this.point]]: { decide: guarded('decide', (ctx) => this.decideFn(ctx, new Params(ctx.params))) },
    };
  }
}
