// `{{name}}`: a canary regresses when a one-sided Welch test finds it worse.
import { Policy, param, display, fixed, metricVerdict, regressionDecision, stats } from 'sluice-policy';

const policy = new Policy({
  point: 'regression',
  name: '{{name}}',
  version: '0.1.0',
  summary: 'Per metric: one-sided Welch test in the bad direction; too few samples is inconclusive.',
  params: [
    param.float('alpha', 0.05, 'Significance level, in (0, 1).'),
    param.integer('min_samples', 5, 'Fewest samples on each side for a verdict.'),
  ],
});

policy.decide((ctx, params) => {
  const alpha = params.float('alpha', 0.05);
  const need = params.integer('min_samples', 5);
  const verdicts = ctx.metrics.map((w) => {
    // "Worse" is lower for higher-is-better metrics: test canary < baseline.
    const worse = w.direction === 'higher-is-better' ? 'less' : 'greater';
    const c = stats.compare(w.canary, w.baseline, stats.iqr(1.5), 'welch', worse);
    const p = c.significance.pValue;
    const numbers = { n_baseline: c.b.n, n_canary: c.a.n, p_value: p };
    if (Math.min(c.a.n, c.b.n) < need) return metricVerdict(w.name, 'inconclusive', `fewer than ${need} samples`, numbers);
    if (p < alpha) return metricVerdict(w.name, 'regressed', `p = ${fixed(p, 4)} < ${display(alpha)}`, numbers);
    return metricVerdict(w.name, 'pass', `p = ${fixed(p, 4)}`, numbers);
  });
  for (const outcome of ['regressed', 'inconclusive']) {
    const names = verdicts.filter((v) => v.verdict === outcome).map((v) => v.name);
    if (names.length) return regressionDecision(outcome, `${outcome}: ${names.join(', ')}`, verdicts);
  }
  if (!verdicts.length) return regressionDecision('inconclusive', 'no metrics to judge', verdicts);
  return regressionDecision('pass', `all ${verdicts.length} metrics pass`, verdicts);
});

export default policy;
