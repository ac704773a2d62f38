// `canary-steps` in JavaScript — the same decisions as the Rust stock policy.
//
// Walks the candidate through `steps` (default 10 → 25 → 50 → 100 %). At each step it
// waits `min_step_time`, then: a `regressed` verdict rolls back at once; `pass` advances
// to the next weight (or completes at 100); `inconclusive` or no verdict holds — at most
// `max_holds` times in a row, then rolls back.
import { Policy, param, display, num, advance, complete, hold, rollback } from 'sluice-policy';

const DEFAULT_STEPS = [10, 25, 50, 100];
const U32_MAX = 2 ** 32 - 1;

const policy = new Policy({
  point: 'rollout',
  name: 'canary-steps',
  version: '1.0.0',
  summary: 'Advance through traffic weights on pass, hold on inconclusive (bounded), roll back on regression.',
  params: [
    param.integerList('steps', DEFAULT_STEPS, 'Candidate traffic weights in %, strictly increasing, ending at 100.'),
    param.duration('min_step_time', 60, 'Least time at a weight before it may advance.'),
    param.integer('max_holds', 10, 'Holds in a row at one step (no verdict or inconclusive) before rolling back.'),
  ],
});

policy.validate((params) => {
  const problems = [];
  const steps = params.integerList('steps', DEFAULT_STEPS);
  if (steps.length === 0) problems.push('steps must not be empty');
  if (steps.some((w) => w < 1 || w > 100)) problems.push(`every step must be between 1 and 100, got ${display(steps)}`);
  if (steps.some((w, i) => i > 0 && steps[i - 1] >= w)) problems.push(`steps must increase strictly, got ${display(steps)}`);
  if (steps.at(-1) !== 100) problems.push(`the last step must be 100, got ${display(steps)}`);
  if (params.integer('max_holds', 10) < 0) problems.push('max_holds must not be negative');
  return problems;
});

policy.decide((ctx, params) => {
  const steps = params.integerList('steps', DEFAULT_STEPS);
  const minStepTime = params.unsigned('min_step_time', 60);
  let maxHolds = params.integer('max_holds', 10);
  if (maxHolds < 0 || maxHolds > U32_MAX) maxHolds = 10;
  const weight = ctx.currentWeight;
  const atStep = num(ctx.secondsAtStep);

  if (ctx.verdict === 'regressed') return rollback(`canary ${ctx.candidateVersion} regressed at ${weight}%`);
  // Before the first step nothing has been measured: start at the first weight.
  if (weight === 0 && steps.length > 0 && steps[0] >= 0 && steps[0] <= 255) {
    return advance(steps[0], `start the rollout at ${steps[0]}%`);
  }
  if (atStep < minStepTime) return hold(`${atStep}s at ${weight}%, less than min_step_time ${minStepTime}s`);
  if (ctx.verdict === 'pass') {
    const next = steps.find((w) => w > weight);
    if (next === undefined) return complete(`pass at ${weight}%; rollout complete`);
    return advance(next <= 255 ? next : 100, `pass at ${weight}%; advancing to ${next}%`);
  }
  if (ctx.holdsAtStep >= maxHolds) {
    return rollback(`no conclusive analysis after ${ctx.holdsAtStep} holds at ${weight}% (max_holds ${maxHolds})`);
  }
  if (ctx.verdict !== undefined) return hold(`inconclusive at ${weight}%; holding`);
  return hold(`no analysis yet at ${weight}%`);
});

export default policy;
