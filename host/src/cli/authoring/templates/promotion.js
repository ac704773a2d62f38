// `{{name}}`: promotes a candidate whose accuracy reaches `min_accuracy`.
import { Policy, param, display, promote, reject } from 'sluice-policy';

const policy = new Policy({
  point: 'promotion',
  name: '{{name}}',
  version: '0.1.0',
  summary: "Promote when the candidate's accuracy reaches min_accuracy; a missing metric rejects.",
  params: [param.float('min_accuracy', 0.9, 'The least accuracy a candidate needs, in [0, 1].')],
});

policy.validate((params) => {
  const floor = params.float('min_accuracy', 0.9);
  return floor >= 0 && floor <= 1 ? [] : [`min_accuracy must be in [0, 1], got ${display(floor)}`];
});

policy.decide((ctx, params) => {
  const floor = params.float('min_accuracy', 0.9);
  const accuracy = ctx.candidate.metrics.find((m) => m.name === 'accuracy')?.value;
  if (accuracy === undefined || !Number.isFinite(accuracy)) {
    return reject(`candidate ${ctx.candidate.version} reports no finite accuracy`);
  }
  if (accuracy < floor) return reject(`accuracy ${display(accuracy)} is below ${display(floor)}`);
  return promote(`accuracy ${display(accuracy)} ≥ ${display(floor)}`);
});

export default policy;
