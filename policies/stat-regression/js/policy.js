// `stat-regression` in JavaScript — the same verdicts and statistics as the Rust stock
// policy (the numbers come from the host's `stats`, so they are the same bits).
//
// Per metric: any NaN/infinite sample makes the metric inconclusive. Outliers are
// filtered (IQR or MAD), then fewer than `min_samples` on either side is inconclusive.
// Otherwise a one-sided test (Welch's t or Mann-Whitney U) looks for the canary being
// worse in the metric's bad direction: `regressed` when p < `alpha` and |Cohen's d| ≥
// `min_effect`, else `pass`. Overall: any regressed → regressed; else any inconclusive
// → inconclusive; else pass.
import { Policy, param, display, fixed, metricVerdict, regressionDecision, stats } from 'sluice-policy';

const U32_MAX = 2 ** 32 - 1;

const policy = new Policy({
  point: 'regression',
  name: 'stat-regression',
  version: '1.0.0',
  summary:
    'Canary vs baseline per metric: outlier filter, one-sided test in the bad ' +
    'direction, effect-size floor; too little or NaN data is inconclusive.',
  params: [
    param.float('alpha', 0.05, 'Significance level of the one-sided test, in (0, 1).'),
    param.integer('min_samples', 30, 'Fewest samples (after outlier filtering) on each side for a verdict.'),
    param.float('min_effect', 0.2, "Smallest |Cohen's d| that counts as a regression."),
    param.text('outlier_filter', 'iqr', '`iqr` (Tukey fences, k = 1.5), `mad` (robust z ≤ 3.5) or `none`.'),
    param.text('test', 'welch', "`welch` (Welch's t-test) or `mann-whitney` (Mann-Whitney U)."),
  ],
});

policy.validate((params) => {
  const problems = [];
  const alpha = params.float('alpha', 0.05);
  if (!(alpha > 0 && alpha < 1)) problems.push(`alpha must be in (0, 1), got ${display(alpha)}`);
  const minSamples = params.integer('min_samples', 30);
  if (minSamples < 2) problems.push(`min_samples must be at least 2, got ${minSamples}`);
  const minEffect = params.float('min_effect', 0.2);
  if (!(minEffect >= 0 && Number.isFinite(minEffect))) problems.push(`min_effect must be a finite number ≥ 0, got ${display(minEffect)}`);
  const filter = params.text('outlier_filter', 'iqr');
  if (!['iqr', 'mad', 'none'].includes(filter)) problems.push(`outlier_filter must be iqr, mad or none, got \`${filter}\``);
  const test = params.text('test', 'welch');
  if (!['welch', 'mann-whitney'].includes(test)) problems.push(`test must be welch or mann-whitney, got \`${test}\``);
  return problems;
});

function judge(w, s) {
  const badB = Array.from(w.baseline).filter((x) => !Number.isFinite(x)).length;
  const badC = Array.from(w.canary).filter((x) => !Number.isFinite(x)).length;
  if (badB + badC > 0) return metricVerdict(w.name, 'inconclusive', `${badB} baseline and ${badC} canary samples are NaN or infinite`);
  const higherIsBetter = w.direction === 'higher-is-better';
  // "Worse" is lower for higher-is-better metrics, higher for lower-is-better ones.
  const c = stats.compare(w.canary, w.baseline, s.filter, s.test, higherIsBetter ? 'less' : 'greater');
  const [sc, sb] = [c.a, c.b];
  const statistics = [
    ['n_baseline', sb.n],
    ['n_canary', sc.n],
    ['outliers_removed', c.outliersA + c.outliersB],
    ['mean_baseline', sb.mean],
    ['mean_canary', sc.mean],
  ];
  if (sb.n < s.minSamples || sc.n < s.minSamples) {
    return metricVerdict(w.name, 'inconclusive', `too few samples: ${sb.n} baseline, ${sc.n} canary; need ${s.minSamples} each`, statistics);
  }
  const worse = higherIsBetter ? sc.mean < sb.mean : sc.mean > sb.mean;
  if (sb.sd === 0 && sc.sd === 0) {
    return metricVerdict(w.name, worse ? 'regressed' : 'pass',
      `both windows are constant: baseline ${display(sb.mean)}, canary ${display(sc.mean)}`, statistics);
  }
  const result = c.significance;
  const d = c.cohensD;
  statistics.push(['statistic', result.statistic], ['p_value', result.pValue], ['cohens_d', d]);
  if (Number.isNaN(result.pValue)) return metricVerdict(w.name, 'inconclusive', 'the test could not be computed', statistics);
  const p = fixed(result.pValue, 4);
  const effect = fixed(Math.abs(d), 3);
  const [alpha, minEffect] = [display(s.alpha), display(s.minEffect)];
  if (result.pValue < s.alpha && Math.abs(d) >= s.minEffect) {
    return metricVerdict(w.name, 'regressed', `canary worse: p = ${p} < alpha ${alpha}, |d| = ${effect} ≥ ${minEffect}`, statistics);
  }
  return metricVerdict(w.name, 'pass', `no significant regression: p = ${p} (alpha ${alpha}), |d| = ${effect} (min ${minEffect})`, statistics);
}

policy.decide((ctx, params) => {
  const filter = params.text('outlier_filter', 'iqr');
  const s = {
    alpha: params.float('alpha', 0.05),
    minSamples: Math.min(Math.max(params.integer('min_samples', 30), 2), U32_MAX),
    minEffect: params.float('min_effect', 0.2),
    filter: filter === 'iqr' ? stats.iqr(1.5) : filter === 'mad' ? stats.mad(3.5) : stats.noFilter(),
    test: params.text('test', 'welch') === 'mann-whitney' ? 'mann-whitney' : 'welch',
  };
  const metrics = ctx.metrics.map((w) => judge(w, s));
  const named = (v) => metrics.filter((m) => m.verdict === v).map((m) => m.name);
  const [regressed, inconclusive] = [named('regressed'), named('inconclusive')];
  if (regressed.length) return regressionDecision('regressed', `regressed: ${regressed.join(', ')}`, metrics);
  if (!metrics.length) return regressionDecision('inconclusive', 'no metrics to judge', metrics);
  if (inconclusive.length) return regressionDecision('inconclusive', `inconclusive: ${inconclusive.join(', ')}`, metrics);
  return regressionDecision('pass', `all ${metrics.length} metrics pass`, metrics);
});

export default policy;
