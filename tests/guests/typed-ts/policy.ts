// `threshold-retrain` in TypeScript — the same decisions as the Rust stock policy.
//
// Trains when at least `min_new_samples` new verified samples arrived, or when the last
// training started more than `max_age` ago (and at least one new sample exists). Never
// while a run is active, and never sooner than `min_interval` after the last training
// started.
import { Policy, param, num, train, wait } from 'sluice-policy';
import type { Params, RetrainContext, RetrainDecision } from 'sluice-policy';

const DEFAULT_MIN_NEW_SAMPLES = 50;
const DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600;
const DEFAULT_MIN_INTERVAL_SECONDS = 600;

const policy = new Policy({
  point: 'retrain',
  name: 'threshold-retrain',
  version: '1.0.0',
  summary:
    'Train when enough new verified samples arrived or the model is too old; ' +
    'never while a run is active or sooner than min_interval.',
  params: [
    param.integer('min_new_samples', DEFAULT_MIN_NEW_SAMPLES, 'New verified, unused samples that trigger training (≥ 1).'),
    param.duration('max_age', DEFAULT_MAX_AGE_SECONDS,
      'Retrain when the last training started longer ago than this, if any new sample exists. 0 disables the age trigger.'),
    param.duration('min_interval', DEFAULT_MIN_INTERVAL_SECONDS, 'Least time between the starts of two training runs.'),
  ],
});

policy.validate((params: Params): string[] => {
  const n = params.integer('min_new_samples', DEFAULT_MIN_NEW_SAMPLES);
  return n < 1 ? [`min_new_samples must be at least 1, got ${n}`] : [];
});

policy.decide((ctx: RetrainContext, params: Params): RetrainDecision => {
  const minNew = params.unsigned('min_new_samples', DEFAULT_MIN_NEW_SAMPLES);
  const maxAge = params.unsigned('max_age', DEFAULT_MAX_AGE_SECONDS);
  const minInterval = params.unsigned('min_interval', DEFAULT_MIN_INTERVAL_SECONDS);
  const fresh = num(ctx.newSamples);
  const since: number | undefined = ctx.secondsSinceLastTraining === undefined ? undefined : num(ctx.secondsSinceLastTraining);

  if (ctx.runActive) return wait('a training run is already active');
  if (since !== undefined && since < minInterval) {
    return wait(`last training started ${since}s ago, less than min_interval ${minInterval}s`);
  }
  if (fresh >= minNew) return train(`${fresh} new verified samples ≥ min_new_samples ${minNew}`);
  if (since !== undefined && maxAge > 0 && since >= maxAge && fresh > 0) {
    return train(`model is ${since}s old ≥ max_age ${maxAge}s and ${fresh} new samples exist`);
  }
  return wait(`${fresh} new verified samples < min_new_samples ${minNew}`);
});

export default policy;
