// TypeScript declarations of sluice-policy. The values the host passes and the
// decisions it expects are declared in ./wit.d.ts, generated from sluice's WIT
// (wit/*.wit) as componentize-js maps it: records are objects with camelCase fields,
// variants `{ tag, val }`, enums kebab-case strings, `option<T>` is `T | undefined`,
// u64/s64 are `bigint`, smaller integers `number`.

import type {
  Alternative, Comparison, Description, Interval, Level, MetricVerdict, OutlierFilter, Param,
  ParamSpec, ParamValue, PromotionContext, PromotionDecision, RegressionContext,
  RegressionDecision, RetrainContext, RetrainDecision, RolloutContext, RolloutDecision,
  Summary, TestKind, TestResult, Verdict,
} from './wit.js';
export * from './wit.js';

/** A decision point (WIT world). */
export type Point = 'retrain' | 'promotion' | 'regression' | 'rollout';
export declare const POINTS: Record<Point, string>;

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
/** The severity of a log message (WIT `log.level`). */
export type LogLevel = Level;
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
