// `{{name}}`: trains once `min_new_samples` new verified samples arrived.
import { Policy, param, num, train, wait } from 'sluice-policy';

const policy = new Policy({
  point: 'retrain',
  name: '{{name}}',
  version: '0.1.0',
  summary: 'Train once enough new verified samples arrived; never while a run is active.',
  params: [param.integer('min_new_samples', 100, 'New verified samples that trigger training (≥ 1).')],
});

policy.validate((params) => {
  const n = params.integer('min_new_samples', 100);
  return n < 1 ? [`min_new_samples must be at least 1, got ${n}`] : [];
});

policy.decide((ctx, params) => {
  const need = params.integer('min_new_samples', 100);
  const fresh = num(ctx.newSamples); // u64 arrives as a BigInt
  if (ctx.runActive) return wait('a training run is already active');
  if (fresh >= need) return train(`${fresh} new samples ≥ ${need}`);
  return wait(`${fresh} new samples < ${need}`);
});

export default policy;
