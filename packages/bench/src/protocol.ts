/** Messages between the bench parent and its forked worker processes (JSON over the IPC channel). */
import type { HistogramData } from './histogram.js';
import type { WorkloadName } from './workloads.js';

export interface WorkerConfig {
  connect: string;
  workload: WorkloadName;
  base: string;
  /** Global client numbers this worker runs (client c uses node n<c>, etc.). */
  clients: number[];
  pipeline: number;
  size: number;
  locks: number;
  sessionTimeoutMs: number;
  /** Operations per second for each of this worker's slots (open loop); undefined: closed loop. */
  slotRate?: number;
}

export interface CpuSample {
  userUs: number;
  systemUs: number;
}

export interface WorkerResult {
  ops: number;
  requests: number;
  errors: number;
  errorCodes: Record<string, number>;
  /** Operations still running when the run ended and did not finish within the grace period. */
  unfinished: number;
  histogram: HistogramData;
  /** Operations completed in each second of the measured window. */
  timeline: number[];
  /** CPU used by this process during the measured window. */
  cpu: CpuSample;
  /** Event-loop utilisation during the measured window (1 = the loop never idled). */
  elu: number;
  measuredMs: number;
}

export type ParentMessage =
  | { type: 'config'; config: WorkerConfig }
  | { type: 'start'; startAtEpochMs: number; warmupMs: number; measureMs: number }
  | { type: 'hold'; connect: string; path: string; sessionTimeoutMs: number };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'result'; result: WorkerResult }
  | { type: 'holding'; negotiatedTimeoutMs: number; sessionId: string }
  | { type: 'fatal'; message: string };
