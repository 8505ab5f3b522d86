// The CLI's output helpers, usage error and flag parsing, with no project imports: the router's
// entry uses them too.
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/** A mistake in how the command was called: printed without a stack, exit code 2. */
export class UsageError extends Error {}

const tty = process.stderr.isTTY;
const paint = (code: number) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const color = { green: paint(32), red: paint(31), yellow: paint(33), dim: paint(2), bold: paint(1) };

/** Progress goes to stderr so stdout stays clean for --json output. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Strict flags (no positionals); a parse error is a UsageError. */
export function parse<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function portOf(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`${name} must be a port number, got ${value}`);
  return n;
}

/** Repeated NAME=VALUE flags as a record (a name given twice keeps the last value). */
export function keyValues(list: string[] | undefined, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const at = item.indexOf('=');
    if (at < 1) throw new UsageError(`${name} takes KEY=VALUE, got ${item}`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

/**
 * Resolves once `close` has run after the first SIGINT or SIGTERM (whether or not it succeeded),
 * saying which signal stopped the process when `announce` is set.
 */
export function untilStopped(
  close: () => Promise<void>,
  options: { announce?: boolean } = {},
): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      if (options.announce) say(`${signal}: stopping …`);
      close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
