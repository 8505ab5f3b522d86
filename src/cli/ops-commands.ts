import type { Config } from '../platform/config.ts';
import { backupCommand, restoreCommand } from './backup-commands.ts';

// The go-live toolkit's commands (preflight, backup, monitoring, alerting), kept apart from main.ts.
export const OPS_HELP = `  backup [--verify] [--json]  full backup (pg_dump custom format, or the COPY archive); --verify runs a timed restore drill
  restore DIR [--yes] [--json]
                             replace the database with a backup archive (refused if a checksum does not match)`;

export const opsCommands: Record<string, (args: string[], config: Config) => Promise<number>> = {
  backup: backupCommand,
  restore: restoreCommand,
};
