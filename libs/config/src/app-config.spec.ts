import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, isEmbedded, loadConfig } from './app-config.js';

describe(loadConfig.name, () => {
  it('has defaults for a local run, and freezes the result', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    // local only unless told otherwise (the image and the manifests set HOST=0.0.0.0)
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.s3.bucket, 'koodrive-uploads');
    assert.equal(config.upload.partUrlTtlSeconds, 3600);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.s3));
  });

  it('bounds every dependency wait so that a stalled one is answered within 5 s by default', () => {
    const { timeouts } = loadConfig({});
    // the longest each request path can wait on one stalled dependency (docs/configuration.md,
    // "Timeouts"): an SDK call's deadline; a part PUT's connect, then no progress; a statement
    // the server does not answer (its bound + the client's 0.5 s); a pooled connection; a command
    const waits = {
      storageCall: timeouts.storageRequestMs,
      partPut: Math.max(timeouts.storageConnectMs, timeouts.storageIdleMs),
      statement: timeouts.databaseStatementMs + 500,
      acquire: timeouts.databaseAcquireMs,
      redis: timeouts.redisCommandMs,
    };
    for (const [what, ms] of Object.entries(waits)) {
      assert.ok(ms < 5_000, `${what}: ${ms} ms`);
    }
  });

  it('counts the shutdown deadline from the signal: the drain must end before it', () => {
    assert.equal(loadConfig({ SHUTDOWN_DRAIN_SECONDS: '4', SHUTDOWN_TIMEOUT_SECONDS: '5' }).shutdownTimeoutSeconds, 5);
    assert.throws(
      () => loadConfig({ SHUTDOWN_DRAIN_SECONDS: '5', SHUTDOWN_TIMEOUT_SECONDS: '5' }),
      /SHUTDOWN_DRAIN_SECONDS \(5\) must be below SHUTDOWN_TIMEOUT_SECONDS \(5\)/,
    );
  });

  it('leaves the dependencies unset when not given: the embedded parts stand in', () => {
    const config = loadConfig({});
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.s3.endpoint, undefined);
    assert.equal(config.telemetry.otlpEndpoint, undefined);
    assert.equal(config.dataDir, '.data');
    assert.equal(isEmbedded(config), true);
  });

  it('is embedded only with no dependency configured (then alone it prints traces with no OTLP endpoint)', () => {
    for (const env of [
      { DATABASE_URL: 'postgresql://db/koodrive' },
      { REDIS_URL: 'redis://redis:6379' },
      { REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'koodrive' },
      { S3_ENDPOINT: 'http://rgw:7480' },
    ]) {
      assert.equal(isEmbedded(loadConfig(env)), false, JSON.stringify(env));
    }
  });

  it('fails naming every bad variable at once', () => {
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        S3_FORCE_PATH_STYLE: 'yes',
        AWS_ACCESS_KEY_ID: 'only-one',
      });
      assert.fail('no error');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      for (const name of ['PORT', 'DATABASE_URL', 'S3_FORCE_PATH_STYLE', 'AWS_ACCESS_KEY_ID']) {
        assert.match(text, new RegExp(name));
      }
      assert.equal(error.problems.length, 4);
    }
  });

  it('requires the addresses of its dependencies in production', () => {
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production', REDIS_URL: 'redis://redis:6379' }),
      (error: ConfigError) =>
        error.problems.length === 5 &&
        /DATABASE_URL/.test(error.problems[0]!) &&
        /S3_ENDPOINT/.test(error.problems[1]!) &&
        /S3_BUCKET/.test(error.problems[2]!) &&
        /PART_URL_SECRET/.test(error.problems[3]!) &&
        /^PUBLIC_URL is required when NODE_ENV=production/.test(error.problems[4]!),
    );
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://db/koodrive',
      REDIS_URL: 'redis://redis:6379',
      S3_BUCKET: 'uploads',
      S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com',
      PART_URL_SECRET: 'x'.repeat(32),
      PUBLIC_URL: 'https://upload.koodrive.example/',
    };
    const config = loadConfig(production);
    assert.equal(config.databaseUrl, 'postgresql://db/koodrive');
    assert.equal(config.upload.publicUrl, 'https://upload.koodrive.example');
    // without PUBLIC_URL, part URLs would be built from the Host a caller sends
    assert.throws(
      () => loadConfig({ ...production, PUBLIC_URL: undefined }),
      (error: ConfigError) => error.problems.length === 1 && /^PUBLIC_URL is required/.test(error.problems[0]!),
    );
  });

  it('caps the open upload tasks of a user at MAX_OPEN_UPLOADS_PER_USER (1,000)', () => {
    assert.equal(loadConfig({}).upload.maxOpenPerUser, 1000);
    assert.equal(loadConfig({ MAX_OPEN_UPLOADS_PER_USER: '3' }).upload.maxOpenPerUser, 3);
    assert.throws(() => loadConfig({ MAX_OPEN_UPLOADS_PER_USER: '0' }), /MAX_OPEN_UPLOADS_PER_USER/);
  });

  it('serves /metrics on a port of its own (9464), never the API port', () => {
    assert.equal(loadConfig({}).metricsPort, 9464);
    assert.equal(loadConfig({ METRICS_PORT: '0', PORT: '0' }).metricsPort, 0);
    assert.throws(
      () => loadConfig({ PORT: '8080', METRICS_PORT: '8080' }),
      (error: ConfigError) =>
        error.problems.length === 1 && /METRICS_PORT must differ from PORT/.test(error.problems[0]!),
    );
    assert.throws(() => loadConfig({ METRICS_PORT: '70000' }), /METRICS_PORT/);
  });

  it('takes CORS origins exactly, and refuses anything that is not an origin', () => {
    assert.deepEqual(loadConfig({}).corsOrigins, []);
    assert.deepEqual(
      loadConfig({ CORS_ORIGINS: 'https://app.koodrive.example.com, http://localhost:5173' }).corsOrigins,
      ['https://app.koodrive.example.com', 'http://localhost:5173'],
    );
    for (const bad of [
      '*',
      'https://app.example.com/',
      'https://app.example.com/upload',
      'ftp://x.example.com',
      'app.example.com',
      'https://APP.example.com',
    ]) {
      assert.throws(() => loadConfig({ CORS_ORIGINS: bad }), /CORS_ORIGINS must list origins/, bad);
    }
  });

  it('talks to PostgreSQL directly unless told DATABASE_URL is a pooler in transaction mode', () => {
    assert.equal(loadConfig({}).databasePooler, 'none');
    assert.equal(loadConfig({ DATABASE_POOLER: 'transaction' }).databasePooler, 'transaction');
    assert.throws(() => loadConfig({ DATABASE_POOLER: 'session' }), /DATABASE_POOLER must be one of none, transaction/);
  });

  it('follows a Redis primary through Sentinel: host:port entries, a name, and WAIT for one replica by default', () => {
    const config = loadConfig({
      REDIS_SENTINELS: 'sentinel-0:26379, 10.0.0.7:26380,[::1]:26381',
      REDIS_SENTINEL_NAME: 'koodrive',
    });
    assert.deepEqual(config.redisSentinel, {
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: '10.0.0.7', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'koodrive',
    });
    assert.equal(config.maintenance.eventsWaitReplicas, 1);
    assert.equal(loadConfig({}).redisSentinel, undefined);
    assert.equal(loadConfig({}).maintenance.eventsWaitReplicas, 0);
    assert.equal(loadConfig({ EVENTS_WAIT_REPLICAS: '2' }).maintenance.eventsWaitReplicas, 2);
  });

  it('refuses a sentinel list without a name, a name without a list, and entries that are not host:port', () => {
    assert.throws(() => loadConfig({ REDIS_SENTINELS: 'a:1' }), /REDIS_SENTINELS and REDIS_SENTINEL_NAME/);
    assert.throws(() => loadConfig({ REDIS_SENTINEL_NAME: 'koodrive' }), /REDIS_SENTINELS and REDIS_SENTINEL_NAME/);
    for (const bad of ['sentinel-0', 'sentinel-0:0', 'sentinel-0:70000', 'a b:1', ':26379', ',']) {
      assert.throws(
        () => loadConfig({ REDIS_SENTINELS: bad, REDIS_SENTINEL_NAME: 'koodrive' }),
        /REDIS_SENTINELS (must list host:port entries|lists no sentinel)/,
        bad,
      );
    }
  });

  it('takes sentinels in place of REDIS_URL in production', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://db/koodrive',
      S3_BUCKET: 'uploads',
      S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com',
      PART_URL_SECRET: 'x'.repeat(32),
      PUBLIC_URL: 'https://upload.koodrive.example',
    };
    assert.throws(() => loadConfig(production), /REDIS_URL is required/);
    const config = loadConfig({ ...production, REDIS_SENTINELS: 'sentinel:26379', REDIS_SENTINEL_NAME: 'koodrive' });
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.redisSentinel?.name, 'koodrive');
  });
});
