// `metric-gate` in JavaScript — the same decisions as the Rust stock policy.
//
// Each rule names a metric, its direction, optional floor/ceiling and a tolerance
// against production (`accuracy higher min 0.90 tolerance 0.01`). Promote when every
// rule holds; reject naming the first rule that fails. A metric missing from the
// candidate (or NaN) is a rejection, never a pass.
import { Policy, param, display, promote, reject, awaitApproval } from 'sluice-policy';

// What Rust's `f64::from_str` accepts as a finite number.
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

const debugWord = (w) => (w === undefined ? 'None' : `Some(${JSON.stringify(w)})`);

/** Parses `<metric> higher|lower [min X] [max X] [tolerance X]`; throws a sentence. */
export function parseRule(text) {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0) throw new Error('a rule is empty');
  const [metric, direction] = words;
  if (direction !== 'higher' && direction !== 'lower') {
    throw new Error(`rule \`${text}\`: expected \`higher\` or \`lower\` after the metric name, found ${debugWord(direction)}`);
  }
  const rule = { metric, higherIsBetter: direction === 'higher', min: undefined, max: undefined, tolerance: 0 };
  for (let i = 2; i < words.length; i += 2) {
    const key = words[i];
    const raw = words[i + 1];
    const value = raw !== undefined && NUMBER.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(value)) throw new Error(`rule \`${text}\`: \`${key}\` needs a finite number after it`);
    if (key === 'min') rule.min = value;
    else if (key === 'max') rule.max = value;
    else if (key === 'tolerance' && value >= 0) rule.tolerance = value;
    else if (key === 'tolerance') throw new Error(`rule \`${text}\`: tolerance must not be negative`);
    else throw new Error(`rule \`${text}\`: unknown keyword \`${key}\`; use min, max or tolerance`);
  }
  return rule;
}

const policy = new Policy({
  point: 'promotion',
  name: 'metric-gate',
  version: '1.0.0',
  summary:
    'Promote when every metric rule holds (floor/ceiling, and not worse than ' +
    'production beyond its tolerance); a missing metric rejects.',
  params: [
    param.textList('rules', ['accuracy higher'], 'One rule per metric: `<metric> higher|lower [min X] [max X] [tolerance X]`.'),
    param.boolean('require_approval', false, 'When true, a candidate that passes waits for an operator instead of promoting.'),
  ],
});

policy.validate((params) => {
  const rules = params.textList('rules', []);
  if (rules.length === 0) return ['rules must list at least one metric rule'];
  const problems = [];
  for (const r of rules) {
    try {
      parseRule(r);
    } catch (e) {
      problems.push(e.message);
    }
  }
  return problems;
});

const metricOf = (report, name) => report?.metrics.find((m) => m.name === name)?.value;

function check(rule, candidate, production) {
  const name = rule.metric;
  const value = metricOf(candidate, name);
  if (value === undefined || !Number.isFinite(value)) throw new Error(`candidate ${candidate.version} reports no finite \`${name}\``);
  if (rule.min !== undefined && value < rule.min) throw new Error(`${name} ${display(value)} is below the floor ${display(rule.min)}`);
  if (rule.max !== undefined && value > rule.max) throw new Error(`${name} ${display(value)} is above the ceiling ${display(rule.max)}`);
  const prod = metricOf(production, name);
  if (prod === undefined || !Number.isFinite(prod)) return `${name} ${display(value)}`;
  const worseBy = rule.higherIsBetter ? prod - value : value - prod;
  if (worseBy > rule.tolerance) {
    throw new Error(
      `${name} ${display(value)} is worse than production's ${display(prod)} by ${worseBy.toFixed(6)}, ` +
        `more than the tolerance ${display(rule.tolerance)}`,
    );
  }
  return `${name} ${display(value)} (production ${display(prod)})`;
}

policy.decide((ctx, params) => {
  const passed = [];
  for (const text of params.textList('rules', ['accuracy higher'])) {
    try {
      passed.push(check(parseRule(text), ctx.candidate, ctx.production));
    } catch (why) {
      return reject(why.message);
    }
  }
  const reason = `all ${passed.length} rules hold: ${passed.join(', ')}`;
  return params.boolean('require_approval', false) ? awaitApproval(reason) : promote(reason);
});

export default policy;
