/**
 * run_once: the first host of the batch still in the play runs the task; every other host waits
 * for it and takes its result (status and registered value), reported with a note. If that host
 * leaves the play before the task, the next one runs it.
 */
import type { Task } from '../load/playbook.js';
import type { TaskReport } from './report.js';
import type { HostState } from './host-state.js';

/** A run_once task in the current batch: the result of the host that ran it, once it started. */
interface Once {
  result?: Promise<TaskReport>;
  started: Promise<void>;
  start: () => void;
}

export class RunOnce {
  private readonly once = new Map<Task, Once>();

  /** `batch`: the hosts of the batch running now, in order. */
  constructor(private readonly batch: () => HostState[]) {}

  /** A new batch: no task has run once in it yet. */
  clear(): void {
    this.once.clear();
  }

  async run(task: Task, h: HostState, run: () => Promise<TaskReport>, copy: (r: TaskReport) => TaskReport): Promise<TaskReport> {
    let once = this.once.get(task);
    if (!once) {
      let start!: () => void;
      const started = new Promise<void>((r) => (start = r));
      once = { started, start };
      this.once.set(task, once);
    }
    for (;;) {
      if (once.result) return copy(await once.result);
      const owner = this.batch().find((s) => s.inPlay && !s.failed && !s.unreachable);
      if (!owner || owner === h) {
        once.result = run();
        once.start();
        return once.result;
      }
      await Promise.race([once.started, owner.playDone]);
    }
  }
}
