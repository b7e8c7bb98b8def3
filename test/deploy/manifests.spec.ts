// deploy/: every manifest validates against the Kubernetes schemas (kubernetes-models, and the
// Prometheus operator's for the ServiceMonitor), the example overlay renders onto resources that
// exist, and the environment the pods get satisfies the service's own configuration check.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { REQUIRED_IN_PRODUCTION, loadConfig } from '@koodrive/config';

// .out/test/deploy → repository root
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BASE = path.join(ROOT, 'deploy/base');
const OVERLAY = path.join(ROOT, 'deploy/overlays/example');

type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

interface Kustomization {
  namespace?: string;
  resources: string[];
  labels?: { pairs: Record<string, string> }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { path?: string; patch?: string; target?: { kind: string; name: string } }[];
}

async function readYaml<T>(file: string): Promise<T[]> {
  return parseAllDocuments(await readFile(file, 'utf8')).map((doc) => doc.toJS() as T);
}

// The model class of a kind, whose validate() checks a manifest against the Kubernetes schema.
async function modelOf(manifest: Manifest): Promise<new (data: unknown) => { validate(): void }> {
  const group = manifest.apiVersion.includes('/') ? manifest.apiVersion : `v1`;
  const module = (await (group.startsWith('monitoring.coreos.com/')
    ? import(`@kubernetes-models/prometheus-operator/${group}`)
    : import(`kubernetes-models/${group}`))) as Record<string, unknown>;
  const model = module[manifest.kind];
  assert.ok(typeof model === 'function', `no schema for ${manifest.apiVersion} ${manifest.kind}`);
  return model as new (data: unknown) => { validate(): void };
}

// The features of kustomize these kustomizations use: resources, labels, namespace, images,
// strategic-merge patches of ConfigMap data, and JSON patches with `replace`.
async function render(dir: string): Promise<Manifest[]> {
  const [kustomization] = await readYaml<Kustomization>(path.join(dir, 'kustomization.yaml'));
  assert.ok(kustomization);
  const manifests: Manifest[] = [];
  for (const resource of kustomization.resources) {
    const target = path.join(dir, resource);
    const isDir = !resource.endsWith('.yaml');
    manifests.push(...(isDir ? await render(target) : await readYaml<Manifest>(target)));
  }
  for (const manifest of manifests) {
    for (const { pairs } of kustomization.labels ?? []) {
      manifest.metadata.labels = { ...manifest.metadata.labels, ...pairs };
    }
    if (kustomization.namespace !== undefined) {
      manifest.metadata.namespace = kustomization.namespace;
    }
  }
  for (const patch of kustomization.patches ?? []) {
    if (patch.path !== undefined) {
      const [merge] = await readYaml<Manifest>(path.join(dir, patch.path));
      const target = manifests.find((m) => m.kind === merge!.kind && m.metadata.name === merge!.metadata.name);
      assert.ok(target, `patch ${patch.path} targets no resource`);
      target.data = { ...(target.data as object), ...(merge!.data as object) };
    } else {
      const target = manifests.find((m) => m.kind === patch.target!.kind && m.metadata.name === patch.target!.name);
      assert.ok(target, `patch targets no ${patch.target!.kind} ${patch.target!.name}`);
      for (const op of (await import('yaml')).parse(patch.patch!) as { op: string; path: string; value: unknown }[]) {
        assert.equal(op.op, 'replace');
        const keys = op.path.split('/').slice(1);
        let node = target as Record<string, unknown>;
        for (const key of keys.slice(0, -1)) {
          node = node[key] as Record<string, unknown>;
        }
        assert.ok(keys.at(-1)! in node, `${op.path} is not in ${target.kind} ${target.metadata.name}`);
        node[keys.at(-1)!] = op.value;
      }
    }
  }
  for (const image of kustomization.images ?? []) {
    const uses = JSON.stringify(manifests).includes(`"image":"${image.name}"`);
    assert.ok(uses, `image ${image.name} is used by no container`);
    for (const manifest of manifests) {
      for (const container of podSpec(manifest)?.containers ?? []) {
        if (container.image === image.name) {
          container.image = `${image.newName ?? image.name}:${image.newTag ?? 'latest'}`;
        }
      }
    }
  }
  return manifests;
}

interface Container {
  name: string;
  image: string;
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  securityContext?: Record<string, unknown>;
}

function podSpec(manifest: Manifest): { containers: Container[]; terminationGracePeriodSeconds?: number } | undefined {
  const spec = manifest.spec as { template?: { spec?: { containers: Container[] } } } | undefined;
  return spec?.template?.spec;
}

const byKind = (manifests: Manifest[], kind: string): Manifest => {
  const found = manifests.find((m) => m.kind === kind);
  assert.ok(found, `no ${kind}`);
  return found;
};

describe('Kubernetes manifests', () => {
  it('validate against the Kubernetes schemas, base, example overlay and the Secret example', async () => {
    const rendered = await render(OVERLAY);
    const secret = await readYaml<Manifest>(path.join(BASE, 'secret.example.yaml'));
    const kinds = new Set<string>();
    for (const manifest of [...(await render(BASE)), ...rendered, ...secret]) {
      const Model = await modelOf(manifest);
      assert.doesNotThrow(() => new Model(manifest).validate(), `${manifest.kind} ${manifest.metadata.name}`);
      kinds.add(manifest.kind);
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
    ]) {
      assert.ok(kinds.has(kind), `deploy/ has a ${kind}`);
    }
  });

  it('a schema check that would catch a broken manifest', async () => {
    const [deployment] = await readYaml<Manifest>(path.join(BASE, 'deployment.yaml'));
    const broken = structuredClone(deployment!) as Manifest & { spec: { replicas: unknown } };
    broken.spec.replicas = 'three';
    const Model = await modelOf(broken);
    assert.throws(() => new Model(broken).validate());
  });

  it('gives the pods every variable the configuration needs, and a configuration that loads', async () => {
    const rendered = await render(OVERLAY);
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
    const config = loadConfig(env);
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

  it('runs hardened: non-root, read-only root filesystem, no privilege escalation, no capabilities', async () => {
    for (const manifest of await render(BASE)) {
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
