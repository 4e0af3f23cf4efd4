/** Helpers shared by the check modules (assert, wait_for, http_check): they never change a host; they pass or fail. */
import { z } from 'zod';
import { lastLines } from '../../engine/shell.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const tail = (s: string, n = 5) => lastLines(s, n);

/** A regular expression, checked when the playbook is loaded (not a crash at run time). */
export const regex = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'a valid regular expression' },
);

