export { startHardhatNode } from './hardhat-node.ts';
export { type Influxdb1Server, type InfluxQLSeries, startInfluxdb1 } from './influxdb1.ts';
export { freePort, type LaunchSpec, type LoopbackServer, startLoopbackServer } from './loopback-server.ts';
export { type RedisServer, startRedis } from './redis.ts';
export { type ExportedSeries, startVictoriaMetrics, type VictoriaMetricsServer } from './victoria-metrics.ts';
