// Runs test/matrix/conformance.js against one module in a child process (its own environment,
// crash-contained) and gives the steps back for assertions.
import * as path from 'node:path';
import { runChild } from './child-process';

export interface MatrixStep {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  detail?: string;
}

export interface MatrixResult {
  module: Record<string, unknown>;
  steps: MatrixStep[];
  /** Exit code and output, for failure messages. */
  summary: string;
}

export interface MatrixConfig {
  modulePath: string;
  initialize?: { libraryParameters?: string; flags?: number };
  token?: string;
  userPin?: string;
  soPin?: string;
  wrongPinAttempts?: number;
  keys?: string[];
  tokenKeys?: boolean;
  readOnly?: boolean;
  expectNoSlots?: boolean;
}

export function runConformance(config: MatrixConfig, env: Record<string, string> = {}, timeoutMs = 240_000): MatrixResult {
  const r = runChild(path.join(__dirname, '..', 'matrix', 'conformance.js'), [JSON.stringify(config)], { env, timeoutMs });
  const json = r.json as { module?: Record<string, unknown>; steps?: MatrixStep[] } | undefined;
  if (!json || !Array.isArray(json.steps)) throw new Error(`conformance run printed no result: ${r.summary}`);
  return { module: json.module ?? {}, steps: json.steps, summary: r.summary };
}

/** Step name → status (and the skip reason), for toEqual/toMatchObject assertions. */
export function statuses(r: MatrixResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of r.steps) out[s.name] = s.status === 'skip' ? `skip: ${s.detail}` : s.status;
  return out;
}

/** Throws with every failed step listed (and the child's output) when any step failed. */
export function expectNoFailures(r: MatrixResult): void {
  const failed = r.steps.filter((s) => s.status === 'fail');
  if (failed.length) throw new Error(`failed steps:\n${failed.map((s) => `  ${s.name}: ${s.detail}`).join('\n')}\n${r.summary}`);
}
