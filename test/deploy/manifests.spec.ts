// deploy/: every kustomization renders with kustomize itself (`kubectl kustomize`, no warnings),
// every manifest it renders validates against the Kubernetes schemas (kubernetes-models, and the
// Prometheus operator's for the ServiceMonitor), the environment the pods get satisfies the
// service's own configuration check, and the production overlay's HTTPS entry fits the service:
// the Ingress takes a 5 GiB part and waits out a complete, on the host of PUBLIC_URL, with the
// certificate cert-manager issues, and the service believes X-Forwarded-* from the ingress only.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { type AppConfig, REQUIRED_IN_PRODUCTION, loadConfig } from '@koodrive/config';
import { GIB, MIB } from '@koodrive/limits';

// .out/test/deploy → repository root
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BASE = path.join(ROOT, 'deploy/base');
const OVERLAYS = path.join(ROOT, 'deploy/overlays');

type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
};

interface Container {
  name: string;
  image: string;
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}

interface IngressSpec {
  ingressClassName?: string;
  tls?: { hosts: string[]; secretName: string }[];
  rules: {
    host: string;
    http: { paths: { path: string; backend: { service: { name: string; port: { name?: string } } } }[] };
  }[];
}

const run = promisify(execFile);

// The kustomize in kubectl: v5 reads the `labels` and `patches` these kustomizations use (kubectl
// 1.27 and later). Debian bookworm's own kubectl (kubernetes-client 1.20) has kustomize v2.0.3,
// which does not: services:up installs it only where there is no kubectl at all.
async function kustomizeVersion(): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await run('kubectl', ['version', '--client', '-o', 'json']));
  } catch (error) {
    throw new Error(`kubectl is not runnable (npm run services:up installs it): ${String(error)}`, { cause: error });
  }
  return (JSON.parse(stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? 'none';
}

// `kubectl kustomize <dir>`: what `kubectl apply -k <dir>` would send, offline. A deprecation
// warning (stderr) fails the render as an error would.
async function render(dir: string): Promise<Manifest[]> {
  const { stdout, stderr } = await run('kubectl', ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
  assert.equal(stderr, '', `kubectl kustomize ${path.relative(ROOT, dir)} warns`);
  return parseAllDocuments(stdout).map((doc) => doc.toJS() as Manifest);
}

async function readYaml<T>(file: string): Promise<T[]> {
  return parseAllDocuments(await readFile(file, 'utf8')).map((doc) => doc.toJS() as T);
}

async function overlays(): Promise<string[]> {
  const entries = await readdir(OVERLAYS, { withFileTypes: true });
  return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
}

// The model class of a kind, whose validate() checks a manifest against the Kubernetes schema;
// undefined for cert-manager's kinds, which have no model here (the production test checks the
// Certificate's fields itself).
async function modelOf(manifest: Manifest): Promise<(new (data: unknown) => { validate(): void }) | undefined> {
  if (manifest.apiVersion.startsWith('cert-manager.io/')) {
    return undefined;
  }
  const group = manifest.apiVersion.includes('/') ? manifest.apiVersion : `v1`;
  const module = (await (group.startsWith('monitoring.coreos.com/')
    ? import(`@kubernetes-models/prometheus-operator/${group}`)
    : import(`kubernetes-models/${group}`))) as Record<string, unknown>;
  const model = module[manifest.kind];
  assert.ok(typeof model === 'function', `no schema for ${manifest.apiVersion} ${manifest.kind}`);
  return model as new (data: unknown) => { validate(): void };
}

function podSpec(manifest: Manifest): { containers: Container[]; terminationGracePeriodSeconds?: number } | undefined {
  const spec = manifest.spec as { template?: { spec?: { containers: Container[] } } } | undefined;
  return spec?.template?.spec;
}

const byKind = (manifests: Manifest[], kind: string): Manifest => {
  const found = manifests.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
};

// The configuration a rendered overlay's pods load: its ConfigMap plus the example Secret.
async function podConfig(rendered: Manifest[]): Promise<AppConfig> {
  const [secret] = await readYaml<Manifest & { stringData: Record<string, string> }>(
    path.join(BASE, 'secret.example.yaml'),
  );
  const configMap = byKind(rendered, 'ConfigMap') as Manifest & { data: Record<string, string> };
  return loadConfig({ ...configMap.data, ...secret!.stringData });
}

// nginx's size syntax (client_max_body_size): bytes, or k/m/g suffixed; 0 is no limit.
function nginxSize(value: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(value);
  assert.ok(match, `"${value}" is an nginx size`);
  const unit = { '': 1, k: 1024, m: MIB, g: GIB }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(match[1]) === 0 ? Infinity : Number(match[1]) * unit;
}

// Whether an IPv4 address lies in a CIDR (or equals a bare address).
function inCidr(address: string, cidr: string): boolean {
  const toInt = (ip: string): number => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const [network = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(address) / size) === Math.floor(toInt(network) / size);
}

describe('Kubernetes manifests', () => {
  it('render with kubectl kustomize v5 and validate against the Kubernetes schemas: base, every overlay, the Secret example', async () => {
    const version = await kustomizeVersion();
    assert.match(version, /^v5\./, `kubectl's kustomize is ${version}: these kustomizations need v5 (kubectl 1.27+)`);
    const names = await overlays();
    assert.deepEqual(names.toSorted(), ['example', 'production']);
    const secret = await readYaml<Manifest>(path.join(BASE, 'secret.example.yaml'));
    for (const dir of [BASE, ...names.map((name) => path.join(OVERLAYS, name))]) {
      const rendered = await render(dir);
      const kinds = new Set<string>();
      for (const manifest of [...rendered, ...secret]) {
        const Model = await modelOf(manifest);
        if (Model !== undefined) {
          assert.doesNotThrow(
            () => new Model(manifest).validate(),
            `${dir}: ${manifest.kind} ${manifest.metadata.name}`,
          );
        }
        kinds.add(manifest.kind);
        if (dir !== BASE && manifest.kind !== 'Secret') {
          assert.equal(manifest.metadata.namespace, 'koodrive', `${manifest.kind} is in the overlay's namespace`);
          assert.equal(manifest.metadata.labels?.['app.kubernetes.io/part-of'], 'koodrive', 'the base labels applied');
        }
      }
      for (const kind of [
        'Deployment',
        'Service',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'NetworkPolicy',
        'ConfigMap',
        'Secret',
        'Job',
        'ServiceMonitor',
        'PrometheusRule',
      ]) {
        assert.ok(kinds.has(kind), `${path.relative(ROOT, dir)} has a ${kind}`);
      }
    }
  });

  it('a schema check and a render that would catch a broken manifest or kustomization', async () => {
    const [deployment] = await readYaml<Manifest>(path.join(BASE, 'deployment.yaml'));
    const broken = structuredClone(deployment!) as Manifest & { spec: { replicas: unknown } };
    broken.spec.replicas = 'three';
    const Model = await modelOf(broken);
    assert.throws(() => new Model!(broken).validate());
    // a kustomization whose patch targets nothing does not render
    await assert.rejects(render(path.join(ROOT, 'test/fixtures/kustomize-broken')), /no matches for Id|failed to find/);
  });

  for (const overlay of ['example', 'production']) {
    it(`${overlay}: gives the pods every variable the configuration needs, and a configuration that loads`, async () => {
      const rendered = await render(path.join(OVERLAYS, overlay));
      const [secret] = await readYaml<Manifest & { stringData: Record<string, string> }>(
        path.join(BASE, 'secret.example.yaml'),
      );
      const configMap = byKind(rendered, 'ConfigMap') as Manifest & { data: Record<string, string> };
      const deployment = byKind(rendered, 'Deployment');
      const [container] = podSpec(deployment)!.containers;
      assert.deepEqual(
        container!.envFrom?.map((from) => from.configMapRef?.name ?? from.secretRef?.name),
        [configMap.metadata.name, secret!.metadata.name],
      );
      const env = { ...configMap.data, ...secret!.stringData };
      for (const name of REQUIRED_IN_PRODUCTION) {
        assert.ok(env[name] !== undefined, `${name} is provided`);
      }
      const config = await podConfig(rendered);
      assert.equal(config.nodeEnv, 'production');
      assert.equal(config.s3.endpoint, 'http://rook-ceph-rgw-koodrive.rook-ceph.svc:80', 'the overlay patch applied');

      // the migration Job reads the same Secret's DATABASE_URL, with the same image
      const job = byKind(rendered, 'Job');
      const [migrate] = podSpec(job)!.containers;
      const ref = migrate!.env?.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef;
      assert.equal(ref?.name, secret!.metadata.name);
      assert.ok(ref.key in secret!.stringData);
      assert.equal(migrate!.image, container!.image);
      assert.equal(container!.image, 'registry.koodrive.example.com/koodrive-upload:0.1.0');

      // the process is gone by the drain plus its shutdown deadline, which covers the longest complete
      // a client waits for; Kubernetes kills it only after its grace period, so that comes later
      const grace = podSpec(deployment)!.terminationGracePeriodSeconds!;
      assert.ok(config.shutdownTimeoutSeconds >= config.upload.completeWaitSeconds);
      assert.ok(grace > config.shutdownDrainSeconds + config.shutdownTimeoutSeconds);
    });
  }

  it('production: three replicas sized for real parts, at least three under the HPA and two through a disruption', async () => {
    const rendered = await render(path.join(OVERLAYS, 'production'));
    const deployment = byKind(rendered, 'Deployment') as Manifest & { spec: { replicas: number } };
    assert.equal(deployment.spec.replicas, 3);
    const hpa = byKind(rendered, 'HorizontalPodAutoscaler') as Manifest & {
      spec: { minReplicas: number; maxReplicas: number };
    };
    assert.equal(hpa.spec.minReplicas, 3);
    assert.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas);
    const pdb = byKind(rendered, 'PodDisruptionBudget') as Manifest & { spec: { minAvailable: number } };
    assert.ok(pdb.spec.minAvailable < deployment.spec.replicas, 'a node can still be drained');
    const { resources } = podSpec(deployment)!.containers[0]!;
    // a CPU request of a core (the HPA's 100 %) and memory above the ~350 MiB a 1 GiB complete peaks at
    assert.deepEqual(resources, { requests: { cpu: '1', memory: '768Mi' }, limits: { memory: '1536Mi' } });
  });

  it('production: the TLS Ingress fits the service (host, certificate, body size, timeouts, API port only) and is the only proxy it trusts', async () => {
    const rendered = await render(path.join(OVERLAYS, 'production'));
    const config = await podConfig(rendered);
    const ingress = byKind(rendered, 'Ingress') as Manifest & { spec: IngressSpec };
    const certificate = byKind(rendered, 'Certificate') as Manifest & {
      spec: { secretName: string; dnsNames: string[]; issuerRef: { kind: string; name: string } };
    };
    const service = byKind(rendered, 'Service') as Manifest & {
      spec: { ports: { name: string; targetPort: string }[] };
    };

    // PUBLIC_URL is https:// on the Ingress's host, which is the certificate's
    assert.ok(config.upload.publicUrl !== undefined);
    const publicUrl = new URL(config.upload.publicUrl);
    assert.equal(publicUrl.protocol, 'https:');
    assert.equal(ingress.spec.ingressClassName, 'nginx');
    assert.deepEqual(
      ingress.spec.rules.map((rule) => rule.host),
      [publicUrl.hostname],
    );
    assert.deepEqual(ingress.spec.tls, [{ hosts: [publicUrl.hostname], secretName: certificate.spec.secretName }]);
    assert.deepEqual(certificate.spec.dnsNames, [publicUrl.hostname]);
    assert.equal(certificate.spec.issuerRef.kind, 'ClusterIssuer');

    // every path goes to the Service's API port, whose target is the container's http port
    const [rule] = ingress.spec.rules;
    assert.deepEqual(
      rule!.http.paths.map(({ path: p, backend }) => [p, backend.service.name, backend.service.port.name]),
      [['/', service.metadata.name, 'http']],
    );
    assert.equal(service.spec.ports.find((port) => port.name === 'http')?.targetPort, 'http');

    // a part of up to 5 GiB, streamed; a complete answers within COMPLETE_WAIT_SECONDS
    const annotations = ingress.metadata.annotations ?? {};
    const annotation = (name: string): string => {
      const value = annotations[`nginx.ingress.kubernetes.io/${name}`];
      assert.ok(value !== undefined, `the Ingress sets ${name}`);
      return value;
    };
    assert.ok(nginxSize(annotation('proxy-body-size')) >= 5 * GIB, 'the body limit takes a 5 GiB part');
    assert.equal(annotation('proxy-request-buffering'), 'off');
    for (const timeout of ['proxy-read-timeout', 'proxy-send-timeout']) {
      assert.ok(Number(annotation(timeout)) > config.upload.completeWaitSeconds, `${timeout} outlasts a complete`);
    }
    assert.equal(annotation('force-ssl-redirect'), 'true');

    // X-Forwarded-* are believed from the pod network, and only the ingress namespace reaches the
    // API port there
    assert.equal(config.trustProxy.length, 1);
    assert.ok(inCidr('10.244.3.7', config.trustProxy[0]!), 'a pod address is trusted');
    assert.ok(!inCidr('203.0.113.9', config.trustProxy[0]!), 'a client address is not');
    const policy = byKind(rendered, 'NetworkPolicy') as Manifest & {
      spec: {
        ingress: {
          from: { namespaceSelector?: { matchLabels: Record<string, string> } }[];
          ports: { port: number }[];
        }[];
      };
    };
    const toApi = policy.spec.ingress.filter((entry) => entry.ports.some((port) => port.port === config.port));
    assert.deepEqual(
      toApi.map((entry) => entry.from.map((from) => from.namespaceSelector?.matchLabels)),
      [[{ 'kubernetes.io/metadata.name': 'ingress-nginx' }]],
    );
  });

  it('runs hardened: non-root, read-only root filesystem, no privilege escalation, no capabilities', async () => {
    for (const manifest of await render(path.join(OVERLAYS, 'production'))) {
      for (const container of podSpec(manifest)?.containers ?? []) {
        assert.deepEqual(
          {
            allowPrivilegeEscalation: container.securityContext?.allowPrivilegeEscalation,
            readOnlyRootFilesystem: container.securityContext?.readOnlyRootFilesystem,
            capabilities: container.securityContext?.capabilities,
          },
          { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          `${manifest.kind} ${container.name}`,
        );
        const pod = (manifest.spec as { template: { spec: { securityContext: { runAsNonRoot: boolean } } } }).template
          .spec;
        assert.equal(pod.securityContext.runAsNonRoot, true);
      }
    }
  });
});
