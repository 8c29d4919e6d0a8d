/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   the broken copies are edited as untyped YAML */
/**
 * infra/kubernetes: the base and the AWS overlay, built as `kubectl apply -k` would build them (kustomize itself
 * does not run here), validated against the Kubernetes OpenAPI schemas (kubernetes-models, and the Prometheus
 * Operator's for the ServiceMonitor), and checked against jr-api itself: its variables, ports, routes, data
 * directory, stop time and Secrets. Broken copies show that both the schemas and the checks refuse what is wrong.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../../apps/api/src/config/config.schema';
import {
  KUBE_DIR,
  ROOT,
  buildKustomization,
  checkManifests,
  declaredSecrets,
  loadValidators,
  readApiFacts,
  readYamlObjects,
  schemaErrors,
  type KubeObject,
} from './kubernetes-checks';
import { parseTerraformDir } from './terraform-checks';

const facts = readApiFacts();
const secrets = declaredSecrets();
const readme = readFileSync(path.join(KUBE_DIR, 'README.md'), 'utf8');
const base = () => buildKustomization(path.join(KUBE_DIR, 'base'));
const overlay = () => buildKustomization(path.join(KUBE_DIR, 'overlays/aws'));
const find = (objects: KubeObject[], kind: string, name: string): Record<string, any> => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name}`);
  return o;
};
const container = (objects: KubeObject[]) => find(objects, 'StatefulSet', 'jr-api').spec.template.spec.containers[0];
const envVar = (objects: KubeObject[], name: string) =>
  container(objects).env.find((e: { name: string }) => e.name === name);

let validators: Awaited<ReturnType<typeof loadValidators>>;
beforeAll(async () => {
  validators = await loadValidators();
});

describe('the facts the checks compare with', () => {
  test('are read from the product, not restated here', () => {
    expect(facts.env.get('JR_HTTP_PORT')).toBe('8080');
    expect(facts.env.get('JR_GRPC_PORT')).toBe('50051');
    expect(facts.env.has('JR_REPLICA_ID')).toBe(true);
    expect(facts.env.has('JR_API_GRPC')).toBe(false); // an agent variable
    expect([...facts.publicHealthRoutes].sort()).toEqual(['/healthz', '/readyz']);
    expect(facts.healthRoutes.has('/metrics')).toBe(true);
    expect(facts.forcedStopMs).toBe(20_000);
    expect(facts.prometheusJob).toBe('jr-api');
  });
});

describe('infra/kubernetes/base', () => {
  test('lists every manifest file of the directory', () => {
    const listed = readFileSync(path.join(KUBE_DIR, 'base/kustomization.yaml'), 'utf8');
    const files = readdirSync(path.join(KUBE_DIR, 'base')).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
    );
    for (const f of files) expect(listed).toContain(`- ${f}`);
  });

  test('is valid against the Kubernetes and Prometheus Operator schemas', () => {
    const objects = base();
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'Namespace',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'Service',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
      'StatefulSet',
    ]);
    expect(schemaErrors(objects, validators)).toEqual([]);
  });

  test('matches jr-api: variables, ports, probes, data directory, stop, TLS, selectors, Secrets', () => {
    expect(checkManifests(base(), facts, secrets, readme)).toEqual([]);
  });

  test("jr-api's own configuration parser accepts the pod's environment", () => {
    // what the kubelet would hand the container for jr-api-0, with Secret values of the right shape
    const secretValues: Record<string, string> = {
      'database-url': 'postgres://jr:pw@db-a.example.internal:5432,db-b.example.internal:5432/jobrunner',
      'redis-url': 'rediss://:token-0123456789abcdef@redis.example.internal:6379',
      'admin-token': randomBytes(32).toString('base64'),
      'enroll-token': randomBytes(32).toString('base64'),
      'secrets-key': `k1:${randomBytes(32).toString('base64')}`,
    };
    const env: Record<string, string> = {};
    for (const e of container(base()).env) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = 'jr-api-0';
      else env[e.name] = secretValues[e.valueFrom.secretKeyRef.key] as string;
    }
    const loaded = loadConfig(env);
    if (!loaded.ok) throw new Error(loaded.errors.join('; '));
    expect(loaded.warnings).toEqual([]);
    expect(loaded.config).toMatchObject({
      httpPort: 8080,
      grpcPort: 50051,
      bindHost: '0.0.0.0',
      dataDir: '/var/lib/jobrunner',
      replicaId: 'jr-api-0',
      dev: false,
      grpcMaxConnectionAgeMs: 300_000,
      tls: { mode: 'operator', certFile: '/etc/jobrunner/tls/tls.crt', keyFile: '/etc/jobrunner/tls/tls.key' },
      agentCaFiles: { certFile: '/etc/jobrunner/agent-ca/tls.crt', keyFile: '/etc/jobrunner/agent-ca/tls.key' },
    });
    expect(loaded.config.databaseEndpoints.map((e) => e.host)).toEqual([
      'db-a.example.internal',
      'db-b.example.internal',
    ]);
  });

  test('the example Secrets are valid too, and only placeholders', () => {
    const objects = readYamlObjects(path.join(KUBE_DIR, 'secrets.example.yaml'));
    expect(schemaErrors(objects, validators)).toEqual([]);
    for (const s of objects)
      for (const v of Object.values((s.stringData as Record<string, string>) ?? {}))
        expect(v).toMatch(/CHANGE-ME|placeholder/);
  });
});

describe('infra/kubernetes/overlays/aws', () => {
  test('is valid and still matches jr-api', () => {
    const objects = overlay();
    expect(schemaErrors(objects, validators)).toEqual([]);
    expect(checkManifests(objects, facts, secrets, readme)).toEqual([]);
  });

  test("node ports and storage class are the ones infra/terraform/aws's NLB and EKS expect", async () => {
    const objects = overlay();
    const tf = await parseTerraformDir(path.join(ROOT, 'infra/terraform/aws'));
    const defaultOf = (name: string) => tf.blocks.variable?.[name]?.[0]?.default;
    for (const [svc, variable] of [
      ['jr-api-rest', 'rest_node_port'],
      ['jr-api-grpc', 'grpc_node_port'],
    ] as const) {
      const spec = find(objects, 'Service', svc).spec;
      expect(spec.type).toBe('NodePort');
      expect(spec.externalTrafficPolicy).toBe('Local');
      expect(spec.ports[0].nodePort).toBe(defaultOf(variable));
    }
    const claim = find(objects, 'StatefulSet', 'jr-api').spec.volumeClaimTemplates[0];
    const sc = find(objects, 'StorageClass', claim.spec.storageClassName);
    expect(sc.provisioner).toBe('ebs.csi.aws.com');
    expect(sc.volumeBindingMode).toBe('WaitForFirstConsumer');
    expect(sc.parameters.encrypted).toBe('true');
  });
});

describe('broken copies are refused', () => {
  test('by the schemas: wrong types, a missing required field, an unknown kind', () => {
    const cases: [string, (o: KubeObject[]) => void, RegExp][] = [
      [
        'replicas as a string',
        (o) => (find(o, 'StatefulSet', 'jr-api').spec.replicas = 'three'),
        /StatefulSet\/jr-api/,
      ],
      ['a port as a string', (o) => (container(o).ports[0].containerPort = 'https'), /StatefulSet\/jr-api/],
      ['no containers', (o) => delete find(o, 'StatefulSet', 'jr-api').spec.template.spec.containers, /containers/],
      [
        'maxUnavailable as an object',
        (o) => (find(o, 'PodDisruptionBudget', 'jr-api').spec.maxUnavailable = {}),
        /PodDisruptionBudget/,
      ],
      [
        'endpoints not a list',
        (o) => (find(o, 'ServiceMonitor', 'jr-api').spec.endpoints = { port: 'https' }),
        /ServiceMonitor/,
      ],
      ['an unknown kind', (o) => o.push({ apiVersion: 'v1', kind: 'Bogus', metadata: { name: 'x' } }), /no schema/],
    ];
    for (const [what, mutate, error] of cases) {
      const objects = base();
      mutate(objects);
      const errors = schemaErrors(objects, validators);
      expect({ what, errors: errors.join('\n') }).toEqual({ what, errors: expect.stringMatching(error) });
    }
  });

  test('by the checks: each mistake an operator could make is named', () => {
    const cases: [string, (o: KubeObject[]) => void, string][] = [
      [
        'a misspelt variable',
        (o) => (envVar(o, 'JR_LOG_LEVEL').name = 'JR_LOGLEVEL'),
        'env JR_LOGLEVEL: not a variable',
      ],
      [
        'an agent variable',
        (o) => container(o).env.push({ name: 'JR_API_GRPC', value: 'x:1' }),
        'env JR_API_GRPC: not',
      ],
      ['a token as a literal', (o) => (envVar(o, 'JR_ADMIN_TOKEN').valueFrom = undefined), 'env JR_ADMIN_TOKEN: must'],
      ['loopback bind', (o) => (envVar(o, 'JR_BIND_HOST').value = '127.0.0.1'), 'env JR_BIND_HOST: 127.0.0.1'],
      [
        'REST port differs',
        (o) => (envVar(o, 'JR_HTTP_PORT').value = '8443'),
        'container port https 8080 != JR_HTTP_PORT',
      ],
      [
        'readiness on a wrong path',
        (o) => (container(o).readinessProbe.httpGet.path = '/ready'),
        'readinessProbe: path /ready',
      ],
      ['probe over http', (o) => (container(o).livenessProbe.httpGet.scheme = 'HTTP'), 'livenessProbe: scheme HTTP'],
      ['data dir elsewhere', (o) => (envVar(o, 'JR_DATA_DIR').value = '/data'), 'JR_DATA_DIR /data: no volume'],
      [
        'data dir on emptyDir',
        (o) => {
          const spec = find(o, 'StatefulSet', 'jr-api').spec;
          spec.volumeClaimTemplates = [];
          spec.template.spec.volumes.push({ name: 'data', emptyDir: { medium: 'Memory' } });
        },
        'is not a volumeClaimTemplate',
      ],
      [
        'short grace',
        (o) => (find(o, 'StatefulSet', 'jr-api').spec.template.spec.terminationGracePeriodSeconds = 20),
        'terminationGracePeriodSeconds 20',
      ],
      ['latest image', (o) => (container(o).image = 'registry.example.com/jobrunner/jr-api:latest'), 'pin a tag'],
      ['root fs writable', (o) => (container(o).securityContext.readOnlyRootFilesystem = false), 'root file system'],
      [
        'PDB selects other pods',
        (o) => (find(o, 'PodDisruptionBudget', 'jr-api').spec.selector.matchLabels = { app: 'x' }),
        'PodDisruptionBudget: selector',
      ],
      [
        'Service selects nothing',
        (o) => (find(o, 'Service', 'jr-api-grpc').spec.selector = { app: 'x' }),
        'Service jr-api-grpc: selects no',
      ],
      [
        'gRPC as h2c',
        (o) => (find(o, 'Service', 'jr-api-grpc').spec.ports[0].appProtocol = 'kubernetes.io/h2c'),
        'gRPC: appProtocol',
      ],
      [
        'metrics job named otherwise',
        (o) => (find(o, 'ServiceMonitor', 'jr-api').spec.jobLabel = 'app.kubernetes.io/component'),
        'ServiceMonitor: job replicas, the alert rules expect jr-api',
      ],
      [
        'ServiceMonitor on jr-api-rest',
        (o) => (find(o, 'ServiceMonitor', 'jr-api').spec.selector.matchLabels['app.kubernetes.io/component'] = 'rest'),
        'ServiceMonitor: Service jr-api-rest hides not-ready replicas',
      ],
      [
        'an undeclared Secret key',
        (o) => (envVar(o, 'DATABASE_URL').valueFrom.secretKeyRef.key = 'db-url'),
        'key db-url referenced but not declared',
      ],
      [
        'TLS key not read-only',
        (o) => delete container(o).volumeMounts.find((m: { name: string }) => m.name === 'tls').readOnly,
        'mounted writable',
      ],
    ];
    for (const [what, mutate, problem] of cases) {
      const objects = base();
      mutate(objects);
      const problems = checkManifests(objects, facts, secrets, readme);
      expect({ what, problems }).toEqual({
        what,
        problems: expect.arrayContaining([expect.stringContaining(problem)]),
      });
    }
  });

  test('kustomize features the test does not emulate are refused, not ignored', () => {
    expect(() => buildKustomization(path.join(__dirname, 'fixtures/kustomize-unsupported'))).toThrow(/not emulated/);
  });
});
