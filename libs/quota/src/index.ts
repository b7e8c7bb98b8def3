export { QuotaModule } from './quota.module.js';
export {
  fits,
  NO_QUOTA_RECORD,
  parseQuota,
  QUOTA_KEY_PREFIX,
  QUOTA_STORE,
  type QuotaRecord,
  type QuotaStore,
} from './quota.store.js';
export { WRONG_TYPE_QUOTA } from './redis-quota.store.js';
