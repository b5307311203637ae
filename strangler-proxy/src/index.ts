export { startProxy, type RunningProxy } from './proxy/proxy-server.ts';
export { runProxy } from './main.ts';
export { loadProxyConfig, type ProxyConfig } from './config/proxy-config.ts';
export { compileRouteTable } from './config/compile-route-table.ts';
export { RouteTableError, formatProblem } from './config/load-route-table.ts';
export { PROXY_ERRORS } from './errors.ts';
export { ProxyAdminClient } from './admin/admin-client.ts';
export { explainRoute } from './admin/describe-table.ts';
export { diffTables } from './routing/diff-tables.ts';
export { canaryBucket, inCanary } from './routing/canary.ts';
export type { RouteTable } from './routing/route-table.ts';
export { PostgresShadowStore, type ShadowExample } from './shadow/shadow-store.ts';
export { buildReport, DEFAULT_SETTINGS, parseSince, type RouteReport, type RouteSettings } from './shadow/shadow-report.ts';
export { editGroup, editUpstream, groupState, type GroupState } from './config/route-file.ts';
export { MODES, type Mode } from './config/route-table-schema.ts';
export {
  DEFAULT_STORE_PREFIX,
  defaultActor,
  RouteDocuments,
  StaleRevisionError,
  storeClient,
  type AuditRecord,
  type InstanceReport,
  type RouteDocument,
} from './config/route-documents.ts';
export {
  awaitFleet,
  convergence,
  diffLines,
  fileTarget,
  storeTarget,
  TableChangedError,
  type Convergence,
  type TableTarget,
  type TableVersion,
} from './config/table-target.ts';
export { parseRouteTable } from './config/load-route-table.ts';
export type { CutoverSpec } from './config/route-table-schema.ts';
export { errorRate, p99, since, sum, type LiveFigures, type SideFigures } from './metrics/live-figures.ts';
