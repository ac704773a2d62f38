// The types of sluice's WIT (package sluice:policy@0.1.0), as componentize-js maps them to
// JavaScript. Generated from wit/*.wit by host/src/cli/authoring/typescript.rs;
// do not edit. Regenerate: SLUICE_BLESS=1 cargo test -p sluice --lib typescript
//
// Records are objects with camelCase fields (an `option<T>` field may be absent),
// variants `{ tag, val }`, enums their case names as strings, lists of numbers
// typed arrays (arrays are accepted too), u64/s64 `bigint`, other numbers `number`.

// ---- interface stats ----

/** Which way a one-sided test looks. Tests compare group `a` with group `b`. */
export type Alternative =
  /** `a` and `b` differ (either direction). */
  | 'two-sided'
  /** `a` is smaller than `b`. */
  | 'less'
  /** `a` is greater than `b`. */
  | 'greater';

/** Descriptive statistics of the finite values of a sample. */
export interface Summary {
  /** Number of finite values used. */
  n: number;
  /** Number of non-finite values ignored. */
  nonFinite: number;
  /** Arithmetic mean; NaN when `n == 0`. */
  mean: number;
  /** Sample standard deviation (n - 1 denominator); NaN when `n < 2`. */
  sd: number;
  /** Smallest value; NaN when `n == 0`. */
  min: number;
  /** Largest value; NaN when `n == 0`. */
  max: number;
  /**
   * Median. Percentiles interpolate linearly between order statistics
   * (the default of NumPy and R's type 7). NaN when `n == 0`.
   */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 95th percentile. */
  p95: number;
  /** 99th percentile. */
  p99: number;
}

/** The outcome of a two-sample hypothesis test. */
export interface TestResult {
  /** The test statistic: Welch's t, or Mann-Whitney's U for group `a`. */
  statistic: number;
  /** The p-value for the requested alternative; NaN when not computable. */
  pValue: number;
  /** Degrees of freedom (Welch-Satterthwaite) for the t-test; NaN for Mann-Whitney. */
  df: number;
  /** Finite values used from `a` and from `b`. */
  nA: number;
  /** See `n-a`. */
  nB: number;
  /** Non-finite values ignored across both groups. */
  dropped: number;
  /**
   * `true` when the p-value is exact (Mann-Whitney with group sizes multiplying
   * to at most 1,000, with or without ties), `false` for an asymptotic
   * approximation (Welch's t-test is always `false`: its t distribution is
   * itself the Welch–Satterthwaite approximation).
   */
  exact: boolean;
}

/** A two-sided confidence interval for the mean. */
export interface Interval {
  /** The sample mean. */
  mean: number;
  /** Lower bound. */
  low: number;
  /** Upper bound. */
  high: number;
}

/** How `compare` filters outliers out of each window first. */
export type OutlierFilter =
  /** Keep every finite value. */
  | { tag: 'none' }
  /** Tukey's fences with this factor k, as `filter-outliers-iqr`. */
  | { tag: 'iqr'; val: number }
  /** Robust z-score at most this threshold, as `filter-outliers-mad`. */
  | { tag: 'mad'; val: number };

/** Which two-sample test `compare` runs. */
export type TestKind =
  /** Welch's unequal-variance t-test, as `welch-t-test`. */
  | 'welch'
  /** Mann-Whitney U, as `mann-whitney-u`. */
  | 'mann-whitney';

/** What `compare` found. */
export interface Comparison {
  /**
   * Summary of the values of `a` that survived the filter; its `non-finite`
   * counts the non-finite values of `a` (never used).
   */
  a: Summary;
  /** The same for `b`. */
  b: Summary;
  /** Finite values of `a` the filter removed as outliers. */
  outliersA: number;
  /** Finite values of `b` the filter removed as outliers. */
  outliersB: number;
  /** The test of filtered `a` against filtered `b`. */
  significance: TestResult;
  /** Cohen's d of filtered `a` against filtered `b`. */
  cohensD: number;
}

// ---- interface log ----

/** Severity of a message. */
export type Level =
  /** Detail for policy authors. */
  | 'debug'
  /** Normal operation. */
  | 'info'
  /** Something an operator should look at. */
  | 'warn'
  /** The policy hit a problem it could not handle. */
  | 'error';

// ---- interface types ----

/** One named measurement of a model, for example `accuracy = 0.93`. */
export interface Metric {
  /** The metric's name as the training report spells it (`accuracy`, `latency_p99_ms`). */
  name: string;
  /**
   * The measured value. May be NaN or infinite if the trainer produced one:
   * policies must treat non-finite values as missing, never as zero.
   */
  value: number;
}

/** What a training run produced, or what is serving in production. */
export interface ModelReport {
  /** The model version, for example `v7`. Opaque to sluice. */
  version: string;
  /** Named metrics reported for this version, in the order the trainer wrote them. */
  metrics: Metric[];
}

/** A regression verdict. Too little data is `inconclusive`, never `pass`. */
export type Verdict =
  /** The canary is not measurably worse. */
  | 'pass'
  /** The canary is measurably worse. */
  | 'regressed'
  /** The data cannot tell (too few samples, NaN, provider errors). */
  | 'inconclusive';

/**
 * The type of a policy parameter. The host checks every configured parameter
 * against the type the policy declares before the policy goes live.
 */
export type ParamType =
  /** `true` or `false`. */
  | 'boolean'
  /** A signed 64-bit integer. */
  | 'integer'
  /** A 64-bit float. Integers in the config are accepted and widened. */
  | 'float'
  /** Free text. */
  | 'text'
  /**
   * A duration, written in the config as `90s`, `15m`, `6h`, `7d` or a number of
   * seconds; delivered to the policy as whole seconds.
   */
  | 'duration'
  /** A list of integers. */
  | 'integer-list'
  /** A list of floats. */
  | 'float-list'
  /** A list of strings. */
  | 'text-list';

/** A parameter value, as configured for one pipeline (or the declared default). */
export type ParamValue =
  /** See `param-type::boolean`. */
  | { tag: 'boolean'; val: boolean }
  /** See `param-type::integer`. */
  | { tag: 'integer'; val: bigint }
  /** See `param-type::float`. */
  | { tag: 'float'; val: number }
  /** See `param-type::text`. */
  | { tag: 'text'; val: string }
  /** See `param-type::duration`; whole seconds. */
  | { tag: 'duration'; val: bigint }
  /** See `param-type::integer-list`. */
  | { tag: 'integer-list'; val: BigInt64Array | bigint[] }
  /** See `param-type::float-list`. */
  | { tag: 'float-list'; val: Float64Array | number[] }
  /** See `param-type::text-list`. */
  | { tag: 'text-list'; val: string[] };

/**
 * One parameter passed to a decision. The host sends every parameter the policy
 * declared: the configured value, or the declared default when none was configured.
 */
export interface Param {
  /** The parameter's name, as declared in `param-spec::name`. */
  name: string;
  /** Its value; always of the declared type. */
  value: ParamValue;
}

/** A parameter a policy accepts, as it declares it in its self-description. */
export interface ParamSpec {
  /** Name used in the pipeline config, `snake_case` by convention. */
  name: string;
  /** The type the value must have. */
  kind: ParamType;
  /**
   * The default. `none` makes the parameter required: a pipeline that does not
   * set it fails at config load.
   */
  default?: ParamValue;
  /** One or two sentences for operators: what it does and its unit. */
  doc: string;
}

/**
 * How a policy describes itself. The host reads this when it loads a module,
 * shows it in `sluice policy check`, and checks pipeline configs against it.
 */
export interface Description {
  /** A stable name, for example `threshold-retrain`. */
  name: string;
  /**
   * The policy's own version, for example `1.2.0`. Recorded in the audit log
   * next to the module's sha256.
   */
  version: string;
  /** One line saying what the policy decides and how. */
  summary: string;
  /**
   * Every parameter the policy accepts. Configured names not listed here are
   * refused at load.
   */
  params: ParamSpec[];
}

// ---- interface decide-retrain ----

/** How the last training run ended. */
export type TrainingOutcome =
  /** A candidate was produced and promoted. */
  | 'promoted'
  /** A candidate was produced and rejected by the promotion policy. */
  | 'rejected'
  /** The training Job failed, timed out or produced no valid report. */
  | 'failed';

/** What the host knows when it asks. */
export interface RetrainContext {
  /** The pipeline's name from the config. */
  pipeline: string;
  /** Every declared parameter: configured values and defaults. */
  params: Param[];
  /** Verified samples not yet used for training. */
  newSamples: bigint;
  /** All verified samples, used or not. */
  totalSamples: bigint;
  /** Seconds since the last training run started; `none` if there never was one. */
  secondsSinceLastTraining?: bigint;
  /** How the last run ended; `none` if there never was one. */
  lastOutcome?: TrainingOutcome;
  /**
   * Whether a training run is active (persisted phase or a live Job).
   * Policies should answer `wait` when it is; the host refuses to start a
   * second run regardless.
   */
  runActive: boolean;
  /** The model now in production, if any. */
  production?: ModelReport;
}

/** A request to start training. */
export interface TrainRequest {
  /** Why: recorded in the audit log and shown by `sluice decisions`. */
  reason: string;
  /**
   * Extra arguments appended to the training container's command. At most 32,
   * each at most 1 KiB.
   */
  args: string[];
}

/** The answer. */
export type RetrainDecision =
  /** Do nothing this tick; the reason is recorded. */
  | { tag: 'wait'; val: string }
  /** Claim the new samples and dispatch a training Job. */
  | { tag: 'train'; val: TrainRequest };

// ---- interface decide-promotion ----

/** What the host knows when it asks. */
export interface PromotionContext {
  /** The pipeline's name from the config. */
  pipeline: string;
  /** Every declared parameter: configured values and defaults. */
  params: Param[];
  /** The report of the model just trained. */
  candidate: ModelReport;
  /** The report of the model in production; `none` for the first model. */
  production?: ModelReport;
}

/** The answer. Every case carries the reason recorded in the audit log. */
export type PromotionDecision =
  /** Commit the candidate's version to the deploy repository. */
  | { tag: 'promote'; val: string }
  /**
   * Discard the candidate. The version is remembered and never promoted
   * automatically.
   */
  | { tag: 'reject'; val: string }
  /** Hold the candidate until an operator approves or rejects it. */
  | { tag: 'await-approval'; val: string };

// ---- interface decide-regression ----

/** Which way a metric is good. */
export type Direction =
  /** Larger is better (accuracy, throughput). */
  | 'higher-is-better'
  /** Smaller is better (latency, error rate). */
  | 'lower-is-better';

/**
 * Samples of one metric from the baseline (stable) and canary (candidate) pods
 * over the same window.
 */
export interface MetricWindow {
  /** The metric's name from the pipeline config. */
  name: string;
  /** Which way it is good. */
  direction: Direction;
  /** Baseline samples. May be empty or contain NaN when the source had no data. */
  baseline: Float64Array | number[];
  /** Canary samples. Same caveats. */
  canary: Float64Array | number[];
}

/** What the host knows when it asks. */
export interface RegressionContext {
  /** The pipeline's name from the config. */
  pipeline: string;
  /** Every declared parameter: configured values and defaults. */
  params: Param[];
  /** One window per watched metric. */
  metrics: MetricWindow[];
}

/** The verdict for one metric, with the numbers behind it. */
export interface MetricVerdict {
  /** The metric's name; must match one of the input windows. */
  name: string;
  /** The verdict for this metric. */
  verdict: Verdict;
  /** Why, in words an operator understands. */
  reason: string;
  /**
   * The statistics used (for example `p_value`, `cohens_d`, `n_baseline`).
   * Recorded verbatim in the audit log.
   */
  statistics: Metric[];
}

/** The answer: one verdict per input metric, and an overall verdict. */
export interface RegressionDecision {
  /** The overall verdict. */
  overall: Verdict;
  /** Why. */
  reason: string;
  /** Exactly one entry per input metric window, by name. */
  metrics: MetricVerdict[];
}

// ---- interface decide-rollout ----

/** What the host knows when it asks. */
export interface RolloutContext {
  /** The pipeline's name from the config. */
  pipeline: string;
  /** Every declared parameter: configured values and defaults. */
  params: Param[];
  /** The version serving the rest of the traffic. */
  stableVersion: string;
  /** The version being rolled out. */
  candidateVersion: string;
  /** Percentage of traffic on the candidate now, 0..=100. */
  currentWeight: number;
  /** Zero-based index of the current step. */
  stepIndex: number;
  /** Seconds since traffic reached `current-weight`. */
  secondsAtStep: bigint;
  /** How many `hold` answers were given in a row at this step. */
  holdsAtStep: number;
  /**
   * This analysis's regression verdict; `none` at weight 0 and when a metric
   * source could not answer this interval (a source that is down is no evidence
   * either way: hold, and roll back once the holds reach your limit).
   */
  verdict?: Verdict;
}

/** A move to a higher weight. */
export interface AdvanceTo {
  /** The new candidate weight; must be greater than `current-weight`, at most 100. */
  weight: number;
  /** Why. */
  reason: string;
}

/** The answer. */
export type RolloutDecision =
  /** Shift more traffic to the candidate. */
  | { tag: 'advance'; val: AdvanceTo }
  /** Stay at this weight; ask again next interval. */
  | { tag: 'hold'; val: string }
  /** Put all traffic back on the stable version, then revert Git. */
  | { tag: 'rollback'; val: string }
  /** The candidate serves 100 % and becomes the stable version. */
  | { tag: 'complete'; val: string };

// ---- interface self-description ----
