// `{{name}}`: walks the candidate through `steps`; rolls back on regression.
import { Policy, param, advance, complete, hold, rollback } from 'sluice-policy';

const policy = new Policy({
  point: 'rollout',
  name: '{{name}}',
  version: '0.1.0',
  summary: 'Advance through the steps on pass, hold otherwise (bounded), roll back on regression.',
  params: [
    param.integerList('steps', [10, 50, 100], 'Candidate weights in %, increasing, ending at 100.'),
    param.integer('max_holds', 5, 'Holds in a row at one step before rolling back.'),
  ],
});

policy.validate((params) => {
  const steps = params.integerList('steps', [10, 50, 100]);
  const ok = steps.length > 0 && steps[0] > 0 && steps.at(-1) === 100 && steps.every((s, i) => i === 0 || steps[i - 1] < s);
  return ok ? [] : [`steps must increase strictly from above 0 to 100, got [${steps.join(', ')}]`];
});

policy.decide((ctx, params) => {
  const steps = params.integerList('steps', [10, 50, 100]);
  const maxHolds = params.integer('max_holds', 5);
  const weight = ctx.currentWeight;
  if (ctx.verdict === 'regressed') return rollback(`regressed at ${weight}%`);
  if (weight === 0) return advance(steps[0], `start at ${steps[0]}%`);
  if (ctx.verdict === 'pass') {
    const next = steps.find((s) => s > weight);
    return next === undefined ? complete('pass at 100%') : advance(next, `pass at ${weight}%`);
  }
  if (ctx.holdsAtStep >= maxHolds) return rollback(`no verdict after ${ctx.holdsAtStep} holds at ${weight}%`);
  return hold(`waiting for a verdict at ${weight}%`);
});

export default policy;
