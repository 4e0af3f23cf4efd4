/**
 * Imported for its effect, by every loader that parses with zod, before its first parse: zod's
 * JIT compiles a function per schema at its first parse, which a run, parsing each schema a few
 * times, never earns back (~25 ms of a no-op's controller CPU).
 */
import { z } from 'zod';

z.config({ jitless: true });
