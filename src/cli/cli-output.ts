// The CLI's output helpers and usage error, with no imports: the router's entry uses them too.

/** A mistake in how the command was called: printed without a stack, exit code 2. */
export class UsageError extends Error {}

const tty = process.stderr.isTTY;
const paint = (code: number) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const color = { green: paint(32), red: paint(31), yellow: paint(33), dim: paint(2), bold: paint(1) };

/** Progress goes to stderr so stdout stays clean for --json output. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}
