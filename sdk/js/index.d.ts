// TypeScript declarations of sluice-policy and of the values the host passes, as
// componentize-js maps sluice's WIT (wit/*.wit): records are objects with camelCase
// fields, variants `{ tag, val }`, enums kebab-case strings, `option<T>` is
// `T | undefined`, u64/s64 are `bigint`, smaller integers `number`.

/** A decision point (WIT world). */
export type Point = 'retrain' | 'promotion' | 'regression' | 'rollout';
export declare const POINTS: Record<Point, string>;

// --- the WIT's shared types (wit/types.wit) ---
export interface Metric { name: string; value: number }
export interface ModelReport { version: string; metrics: Metric[] }
export type Verdict = 'pass' | 'regressed' | 'inconclusive';
export type ParamType = 'boolean' | 'integer' | 'float' | 'text' | 'duration' | 'integer-list' | 'float-list' | 'text-list';
export type ParamValue =
  | { tag: 'boolean'; val: boolean }
  | { tag: 'integer'; val: bigint }
  | { tag: 'float'; val: number }
  | { tag: 'text'; val: string }
  | { tag: 'duration'; val: bigint }
  | { tag: 'integer-list'; val: BigInt64Array | bigint[] }
  | { tag: 'float-list'; val: Float64Array | number[] }
  | { tag: 'text-list'; val: string[] };
export interface Param { name: string; value: ParamValue }
export interface ParamSpec { name: string; kind: ParamType; default?: ParamValue; doc: string }
export interface Description { name: string; version: string; summary: string; params: ParamSpec[] }

// --- contexts and decisions (wit/decisions.wit) ---
export type TrainingOutcome = 'promoted' | 'rejected' | 'failed';
export interface RetrainContext {
  pipeline: string; params: Param[]; newSamples: bigint; totalSamples: bigint;
  secondsSinceLastTraining?: bigint; lastOutcome?: TrainingOutcome; runActive: boolean; production?: ModelReport;
}
export type RetrainDecision = { tag: 'wait'; val: string } | { tag: 'train'; val: { reason: string; args: string[] } };
export interface PromotionContext { pipeline: string; params: Param[]; candidate: ModelReport; production?: ModelReport }
export type PromotionDecision = { tag: 'promote' | 'reject' | 'await-approval'; val: string };
export type Direction = 'higher-is-better' | 'lower-is-better';
export interface MetricWindow { name: string; direction: Direction; baseline: Float64Array | number[]; canary: Float64Array | number[] }
export interface RegressionContext { pipeline: string; params: Param[]; metrics: MetricWindow[] }
export interface MetricVerdict { name: string; verdict: Verdict; reason: string; statistics: Metric[] }
export interface RegressionDecision { overall: Verdict; reason: string; metrics: MetricVerdict[] }
export interface RolloutContext {
  pipeline: string; params: Param[]; stableVersion: string; candidateVersion: string; currentWeight: number;
  stepIndex: number; secondsAtStep: bigint; holdsAtStep: number; verdict?: Verdict;
}
export type RolloutDecision =
  | { tag: 'advance'; val: { weight: number; reason: string } }
  | { tag: 'hold' | 'rollback' | 'complete'; val: string };

export interface Contexts { retrain: RetrainContext; promotion: PromotionContext; regression: RegressionContext; rollout: RolloutContext }
export interface Decisions { retrain: RetrainDecision; promotion: PromotionDecision; regression: RegressionDecision; rollout: RolloutDecision }

// --- the SDK ---
export declare function display(value: number | bigint | boolean | string | unknown[]): string;
export declare function fixed(value: number, decimals: number): string;
/** A bigint or number as a number; throws when it does not fit exactly. */
export declare function num(value: number | bigint): number;

export declare class ParamError extends Error {}
export declare class Params {
  constructor(params?: Param[]);
  raw(name: string): ParamValue | undefined;
  names(): string[];
  boolean(name: string, fallback?: boolean): boolean;
  integer(name: string, fallback?: number): number;
  unsigned(name: string, fallback?: number): number;
  float(name: string, fallback?: number): number;
  text(name: string, fallback?: string): string;
  duration(name: string, fallback?: number): number;
  integerList(name: string, fallback?: number[]): number[];
  floatList(name: string, fallback?: number[]): number[];
  textList(name: string, fallback?: string[]): string[];
}
export declare const param: {
  boolean(name: string, fallback: boolean | undefined, doc: string): ParamSpec;
  integer(name: string, fallback: number | undefined, doc: string): ParamSpec;
  float(name: string, fallback: number | undefined, doc: string): ParamSpec;
  text(name: string, fallback: string | undefined, doc: string): ParamSpec;
  duration(name: string, fallbackSeconds: number | undefined, doc: string): ParamSpec;
  integerList(name: string, fallback: number[] | undefined, doc: string): ParamSpec;
  floatList(name: string, fallback: number[] | undefined, doc: string): ParamSpec;
  textList(name: string, fallback: string[] | undefined, doc: string): ParamSpec;
};

export declare function wait(reason: string): RetrainDecision;
export declare function train(reason: string, args?: string[]): RetrainDecision;
export declare function promote(reason: string): PromotionDecision;
export declare function reject(reason: string): PromotionDecision;
export declare function awaitApproval(reason: string): PromotionDecision;
export declare function advance(weight: number, reason: string): RolloutDecision;
export declare function hold(reason: string): RolloutDecision;
export declare function rollback(reason: string): RolloutDecision;
export declare function complete(reason: string): RolloutDecision;
export declare function metricVerdict(name: string, verdict: Verdict, reason: string,
  statistics?: Record<string, number> | Array<[string, number]>): MetricVerdict;
export declare function regressionDecision(overall: Verdict, reason: string, metrics: MetricVerdict[]): RegressionDecision;

export type OutlierFilter = { tag: 'none' } | { tag: 'iqr'; val: number } | { tag: 'mad'; val: number };
export type Alternative = 'two-sided' | 'less' | 'greater';
export type TestKind = 'welch' | 'mann-whitney';
export interface Summary {
  n: number; nonFinite: number; mean: number; sd: number; min: number; max: number;
  p50: number; p90: number; p95: number; p99: number;
}
export interface TestResult { statistic: number; pValue: number; df: number; nA: number; nB: number; dropped: number; exact: boolean }
export interface Interval { mean: number; low: number; high: number }
export interface Comparison { a: Summary; b: Summary; outliersA: number; outliersB: number; significance: TestResult; cohensD: number }
export declare const stats: {
  iqr(k?: number): OutlierFilter;
  mad(threshold?: number): OutlierFilter;
  noFilter(): OutlierFilter;
  compare(a: ArrayLike<number>, b: ArrayLike<number>, filter?: OutlierFilter, test?: TestKind, alternative?: Alternative): Comparison;
  summarize(xs: ArrayLike<number>): Summary;
  welchTTest(a: ArrayLike<number>, b: ArrayLike<number>, alternative?: Alternative): TestResult;
  mannWhitneyU(a: ArrayLike<number>, b: ArrayLike<number>, alternative?: Alternative): TestResult;
  cohensD(a: ArrayLike<number>, b: ArrayLike<number>): number;
  meanConfidenceInterval(xs: ArrayLike<number>, level?: number): Interval;
  filterOutliersIqr(xs: ArrayLike<number>, k?: number): number[];
  filterOutliersMad(xs: ArrayLike<number>, threshold?: number): number[];
};
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export declare const log: {
  log(level: LogLevel, message: string): void;
  debug(m: string): void; info(m: string): void; warn(m: string): void; error(m: string): void;
};

export declare class Policy<P extends Point = Point> {
  constructor(options: { point: P; name: string; version: string; summary: string; params?: ParamSpec[] });
  readonly point: P;
  decide(fn: (ctx: Contexts[P], params: Params) => Decisions[P]): this;
  validate(fn: (params: Params) => string[]): this;
  description(): Description;
  exports(): Record<string, unknown>;
}
