/** Typed events emitted by the runner; reporters (terminal, plain, JSON) consume them. */
import type { RunReport, TaskReport } from './report.js';

export type RunEvent =
  | { type: 'run-start'; check: boolean; playbooks: string[]; inventory: string; hosts: string[] }
  | { type: 'play-start'; play: string; hosts: string[]; batch?: string }
  | { type: 'host-connecting'; host: string }
  | { type: 'host-connected'; host: string; ms: number }
  | { type: 'host-unreachable'; host: string; error: string }
  | { type: 'task-start'; host: string; play: string; task: string; title?: string; handler: boolean }
  | { type: 'task-result'; result: TaskReport }
  | { type: 'command'; host: string; task: string; cmd: string; phase: 'facts' | 'apply' | 'check' }
  | { type: 'command-output'; host: string; task: string; code: number; stdout: string; stderr: string }
  | { type: 'play-end'; play: string }
  | { type: 'run-end'; report: RunReport };

export type Emit = (e: RunEvent) => void;
