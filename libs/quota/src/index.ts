export { QuotaModule } from './quota.module.js';
export { fits, parseQuota, type Quota, QUOTA_KEY_PREFIX, QUOTA_STORE, type QuotaStore } from './quota.store.js';
