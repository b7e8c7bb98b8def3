export {
  type Dependency,
  bytesVerified,
  completeOutcomes,
  dependencyDuration,
  httpRequestDuration,
  httpRequests,
  maintenanceActions,
  metricsRegistry,
  timeDependency,
  uploadsByStatus,
  verificationDuration,
} from './metrics.js';
