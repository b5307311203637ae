export { startProxy, type RunningProxy } from './proxy/proxy-server.ts';
export { loadProxyConfig, type ProxyConfig } from './config/proxy-config.ts';
export { compileRouteTable } from './config/compile-route-table.ts';
export { RouteTableError } from './config/load-route-table.ts';
export { createLogger } from './logger.ts';
export { PROXY_ERRORS } from './errors.ts';
