import type { Config } from '../platform/config.ts';
import { backupCommand, restoreCommand } from './backup-commands.ts';
import { alertsRunCommand, monitorCommand, opsRenderCommand } from './monitor-commands.ts';
import { preflightCommand } from './preflight-command.ts';

// The go-live toolkit's commands (preflight, backup, monitoring, alerting), kept apart from main.ts.
export const OPS_HELP = `  preflight [--json] [--only G,..] [--skip G,..] [--base-url URL] [--migrations-dir DIR] [--release-dir DIR]
                             [--budget-scale X]
                             50+ pre-deployment checks in groups infrastructure, dependencies, database,
                             security, backup, smoke; exit 1 on any failure
  backup [--verify] [--json]  full backup (pg_dump custom format, or the COPY archive); --verify runs a timed restore drill
  restore DIR [--yes] [--json]
                             replace the database with a backup archive (refused if a checksum does not match)
  monitor [--base-url URL] [--interval S] [--count N] [--json]
                             the critical-metrics table, live (or once with --json)
  ops render --out DIR       Prometheus alert rules and a Grafana dashboard from the thresholds table
  alerts run [--base-url URL] [--interval S] [--count N]
                             evaluate the alert rules against an API's /metrics, escalate, notify`;

export const opsCommands: Record<string, (args: string[], config: Config) => Promise<number>> = {
  preflight: preflightCommand,
  backup: backupCommand,
  restore: restoreCommand,
  monitor: monitorCommand,
  'ops render': opsRenderCommand,
  'alerts run': alertsRunCommand,
};
