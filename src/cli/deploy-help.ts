// Kept apart from deploy-commands.ts so `swipesavvy help` does not load the toolkit.
export const DEPLOY_HELP = `
Releases and traffic
  router [--port P] [--control-port C] --backend VERSION=URL [--nginx DIR]
                             run the traffic router (built-in, or nginx with a generated config in DIR)
  deploy --version V [--from REF|DIR] [--mode canary] [--traffic 5] [--window 30s] [--port P]
         [--ready-timeout 60s] [--release-env K=V]... [--no-rollback] [--budget-scale X] [--json]
                             start release V, route --traffic % to it, judge it over --window;
                             a failed or inconclusive verdict rolls back by itself
  deploy --mode full         promote the canary to 100 % (the previous version stays warm)
  deploy --mode finalize     make a promotion final: the previous version is stopped
  deploy --version V --emit argo [--image IMG] [--out FILE]
                             the same canary policy as an Argo Rollouts manifest
  rollback [--version V] [--json]
                             all traffic back to the stable (or given, running) version; drains and stops the rest
  deployments [--limit N] [--json]
                             the recorded deploys, rollbacks and go-lives
  golive --version V [--from REF|DIR] [--approve ROLE=NAME]... [--traffic 5] [--canary-window 30s]
         [--watch 60s] [--skip preflight,backup] [--accept-smoke-review] [--budget-scale X]
                             the whole runbook: preflight → backup → go/no-go → canary → analysis → full
                             → smoke → stabilisation → finalize → announcement; any failed gate rolls back`;

export const DEPLOY_COMMANDS = ['router', 'deploy', 'rollback', 'deployments', 'golive'] as const;
