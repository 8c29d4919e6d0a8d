/**
 * The Kubernetes manifests of infra/kubernetes against the Kubernetes OpenAPI schemas (kubernetes-models) and
 * against the product: what jr-api reads, listens on and serves. Used by kubernetes-manifests.test.ts, on the real
 * manifests and on broken copies of them.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { REPLICA_ID_RE } from '../../../apps/api/src/leadership/replica-id';

export const ROOT = path.resolve(__dirname, '../../..');
export const KUBE_DIR = path.join(ROOT, 'infra/kubernetes');

/** A Kubernetes object as read from YAML. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

type Validator = (obj: KubeObject) => void;

/** One validating model class per apiVersion/kind the manifests use; anything else is refused, never let through. */
export async function loadValidators(): Promise<Map<string, Validator>> {
  const core = await import('kubernetes-models/v1');
  const apps = await import('kubernetes-models/apps/v1');
  const policy = await import('kubernetes-models/policy/v1');
  const networking = await import('kubernetes-models/networking.k8s.io/v1');
  const storage = await import('kubernetes-models/storage.k8s.io/v1');
  const monitoring = await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1');
  // each constructor copies the object; validate() throws with every schema error
  const classes: Record<string, new (data: never) => { validate(): void }> = {
    'v1/Namespace': core.Namespace,
    'v1/ServiceAccount': core.ServiceAccount,
    'v1/Service': core.Service,
    'v1/Secret': core.Secret,
    'apps/v1/StatefulSet': apps.StatefulSet,
    'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
    'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy,
    'storage.k8s.io/v1/StorageClass': storage.StorageClass,
    'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor,
  };
  return new Map(Object.entries(classes).map(([k, Cls]) => [k, (obj) => new Cls(obj as never).validate()]));
}

/** Schema errors of each object (`Kind/name: message`); an apiVersion/kind without a validator is an error too. */
export function schemaErrors(objects: KubeObject[], validators: Map<string, Validator>): string[] {
  const errors: string[] = [];
  for (const obj of objects) {
    const id = `${obj.kind}/${obj.metadata?.name}`;
    const validate = validators.get(`${obj.apiVersion}/${obj.kind}`);
    if (!validate) {
      errors.push(`${id}: no schema for ${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    try {
      validate(obj);
    } catch (err) {
      errors.push(`${id}: ${(err as Error).message}`);
    }
  }
  return errors;
}

export function readYamlObjects(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as KubeObject;
  });
}

type JsonPatchOp = { op: 'add' | 'replace'; path: string; value: unknown };
type Kustomization = {
  resources?: string[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
  [key: string]: unknown;
};

/**
 * What `kubectl apply -k DIR` would receive, for the subset of kustomize these manifests use: `resources`
 * (files and directories) and inline JSON 6902 `patches` with add/replace. Anything else in a kustomization.yaml
 * is refused, so a feature this does not emulate cannot slip in unchecked.
 */
export function buildKustomization(dir: string): KubeObject[] {
  const k = parseYaml(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const extra = Object.keys(k).filter((key) => !['apiVersion', 'kind', 'resources', 'patches'].includes(key));
  if (extra.length > 0) throw new Error(`${dir}/kustomization.yaml: not emulated by this test: ${extra.join(', ')}`);
  const objects = (k.resources ?? []).flatMap((r) => {
    const p = path.join(dir, r);
    return r.endsWith('.yaml') ? readYamlObjects(p) : buildKustomization(p);
  });
  for (const { target, patch } of k.patches ?? []) {
    const matches = objects.filter((o) => o.kind === target.kind && o.metadata.name === target.name);
    if (matches.length !== 1) throw new Error(`patch target ${target.kind}/${target.name} matches ${matches.length}`);
    for (const op of parseYaml(patch) as JsonPatchOp[]) applyJsonPatch(matches[0], op);
  }
  return objects;
}

/** RFC 6902 add/replace on an object (arrays by index, `-` appends). */
export function applyJsonPatch(target: unknown, { op, path: pointer, value }: JsonPatchOp): void {
  if (op !== 'add' && op !== 'replace') throw new Error(`JSON patch op ${String(op)} is not emulated`);
  const keys = pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop();
  if (last === undefined) throw new Error(`bad JSON pointer ${pointer}`);
  let node = target as Record<string, unknown>;
  for (const key of keys) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) throw new Error(`JSON pointer ${pointer}: no ${key}`);
    node = next as Record<string, unknown>;
  }
  if (op === 'replace' && !(last in node)) throw new Error(`JSON patch replace ${pointer}: nothing there`);
  if (Array.isArray(node) && op === 'add') {
    node.splice(last === '-' ? node.length : Number(last), 0, value);
  } else node[last] = value;
}

/** What the product says, read from its sources: the checks compare the manifests with these. */
export interface ApiFacts {
  /** Variables docs/contract.md lists as used by the api, with their documented defaults. */
  env: Map<string, string>;
  /** GET routes of the HealthController that need no token (`@Public()`), as paths. */
  publicHealthRoutes: Set<string>;
  /** Every GET route of the HealthController. */
  healthRoutes: Set<string>;
  /** How long jr-api takes at most to stop after SIGTERM before it exits anyway (apps/api/src/serve.ts). */
  forcedStopMs: number;
  /** The Prometheus job name the alert rules expect. */
  prometheusJob: string;
}

export function readApiFacts(): ApiFacts {
  const contract = readFileSync(path.join(ROOT, 'docs/contract.md'), 'utf8');
  const env = new Map<string, string>();
  for (const m of contract.matchAll(/^\| `([A-Z][A-Z0-9_]+)`\s*\|([^|]*)\|([^|]*)\|/gm)) {
    const usedBy = (m[2] ?? '').split(',').map((s) => s.trim());
    if (usedBy.includes('api')) env.set(m[1] as string, /`([^`]*)`/.exec(m[3] ?? '')?.[1] ?? '');
  }
  const controller = readFileSync(path.join(ROOT, 'apps/api/src/health/health.controller.ts'), 'utf8');
  const healthRoutes = new Set([...controller.matchAll(/@Get\('([^']+)'\)/g)].map((m) => `/${m[1]}`));
  const publicHealthRoutes = new Set(
    [...controller.matchAll(/@Public\(\)\s*@Get\('([^']+)'\)/g)].map((m) => `/${m[1]}`),
  );
  const main = readFileSync(path.join(ROOT, 'apps/api/src/serve.ts'), 'utf8');
  const forced = /setTimeout\(\(\) => process\.exit\(1\), ([\d_]+)\)/.exec(main);
  if (!forced) throw new Error('apps/api/src/serve.ts: the forced exit after SIGTERM was not found');
  const rules = readFileSync(path.join(ROOT, 'infra/prometheus/rules/jobrunner-alerts.yml'), 'utf8');
  const job = /up\{job="([^"]+)"\}/.exec(rules);
  if (!job) throw new Error('infra/prometheus/rules/jobrunner-alerts.yml: no up{job=…}');
  return {
    env,
    healthRoutes,
    publicHealthRoutes,
    forcedStopMs: Number((forced[1] as string).replace(/_/g, '')),
    prometheusJob: job[1] as string,
  };
}

/** The Secrets secrets.example.yaml declares: name → keys. */
export function declaredSecrets(): Map<string, Set<string>> {
  const declared = new Map<string, Set<string>>();
  for (const s of readYamlObjects(path.join(KUBE_DIR, 'secrets.example.yaml'))) {
    if (s.kind !== 'Secret') continue;
    const data = { ...((s.data as object) ?? {}), ...((s.stringData as object) ?? {}) };
    declared.set(s.metadata.name, new Set(Object.keys(data)));
  }
  return declared;
}

// ---- the checks -------------------------------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   manifests are untyped YAML: the schemas have checked their shape, the checks below read what they need */
type Any = any;

/** Variables that hold credentials: they must come from a Secret, never a literal value. */
const SECRET_VARS = ['DATABASE_URL', 'REDIS_URL', 'JR_ADMIN_TOKEN', 'JR_ENROLL_TOKEN', 'JR_SECRETS_KEY'];
const REQUIRED_FROM_SECRET = ['DATABASE_URL', 'REDIS_URL', 'JR_ADMIN_TOKEN', 'JR_ENROLL_TOKEN'];

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => (labels ?? {})[k] === v);

/**
 * Every problem found in a built kustomization (base or overlay), as one line each; [] when it is right. `secrets`
 * are the declared Secrets and `readme` the text that must document each one.
 */
export function checkManifests(
  objects: KubeObject[],
  facts: ApiFacts,
  secrets: Map<string, Set<string>>,
  readme: string,
): string[] {
  const problems: string[] = [];
  const of = (kind: string) => objects.filter((o) => o.kind === kind) as Any[];
  const [sts, ...moreSts] = of('StatefulSet');
  if (!sts || moreSts.length > 0) return [`expected one StatefulSet, found ${of('StatefulSet').length}`];
  const spec = sts.spec ?? {};
  const pod = spec.template?.spec ?? {};
  const podLabels: Record<string, string> = spec.template?.metadata?.labels ?? {};
  const container = (pod.containers ?? []).find((c: Any) => c.name === 'jr-api');
  if (!container) return ['StatefulSet jr-api: no container named jr-api'];

  // namespaces
  const namespaces = new Set(of('Namespace').map((n) => n.metadata.name));
  for (const o of objects) {
    if (['Namespace', 'StorageClass'].includes(o.kind)) continue;
    if (!o.metadata.namespace || !namespaces.has(o.metadata.namespace))
      problems.push(`${o.kind}/${o.metadata.name}: namespace ${o.metadata.namespace} is not one the base creates`);
  }

  // replicas and identity
  if (!(spec.replicas >= 3)) problems.push(`StatefulSet: replicas ${spec.replicas}, want at least 3`);
  if (spec.podManagementPolicy !== 'Parallel') problems.push('StatefulSet: podManagementPolicy is not Parallel');
  if (!selects(spec.selector?.matchLabels, podLabels)) problems.push('StatefulSet: selector does not match its pods');
  for (let i = 0; i < (spec.replicas ?? 0); i++)
    if (!REPLICA_ID_RE.test(`${sts.metadata.name}-${i}`))
      problems.push(`pod name ${sts.metadata.name}-${i} is not a valid JR_REPLICA_ID`);

  // environment: only variables jr-api knows, credentials from Secrets
  const env = new Map<string, Any>();
  for (const e of container.env ?? []) {
    if (env.has(e.name)) problems.push(`env ${e.name}: set twice`);
    env.set(e.name, e);
    if (!facts.env.has(e.name)) problems.push(`env ${e.name}: not a variable jr-api knows (docs/contract.md)`);
    if (SECRET_VARS.includes(e.name) && e.value !== undefined)
      problems.push(`env ${e.name}: a credential as a literal value; use secretKeyRef`);
  }
  if ((container.envFrom ?? []).length > 0) problems.push('envFrom: not checkable variable by variable; use env');
  for (const name of REQUIRED_FROM_SECRET)
    if (!env.get(name)?.valueFrom?.secretKeyRef) problems.push(`env ${name}: must come from a Secret (secretKeyRef)`);
  const value = (name: string) => (env.get(name)?.value as string | undefined) ?? facts.env.get(name) ?? '';
  if (env.get('JR_REPLICA_ID')?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name')
    problems.push('env JR_REPLICA_ID: must be the pod name (fieldRef metadata.name), stable across restarts');
  if (['127.0.0.1', '::1', 'localhost', ''].includes(value('JR_BIND_HOST')))
    problems.push(`env JR_BIND_HOST: ${value('JR_BIND_HOST') || '(default)'} is unreachable from other pods`);
  if (['1', 'true'].includes(value('JR_INSECURE'))) problems.push('env JR_INSECURE: plain text in a cluster');
  if (['1', 'true'].includes(value('JR_DEV'))) problems.push('env JR_DEV: development tokens in a cluster');

  // ports
  const containerPorts = new Map<string, number>((container.ports ?? []).map((p: Any) => [p.name, p.containerPort]));
  const httpPort = Number(value('JR_HTTP_PORT'));
  const grpcPort = Number(value('JR_GRPC_PORT'));
  if (containerPorts.get('https') !== httpPort)
    problems.push(`container port https ${containerPorts.get('https')} != JR_HTTP_PORT ${httpPort}`);
  if (containerPorts.get('grpc') !== grpcPort)
    problems.push(`container port grpc ${containerPorts.get('grpc')} != JR_GRPC_PORT ${grpcPort}`);
  const portNumber = (p: unknown) => (typeof p === 'string' ? containerPorts.get(p) : p);

  // the data directory on a volume of its own per replica
  const claimNames = new Set((spec.volumeClaimTemplates ?? []).map((t: Any) => t.metadata?.name));
  const dataDir = value('JR_DATA_DIR');
  const dataMount = (container.volumeMounts ?? []).find((m: Any) => m.mountPath === dataDir);
  if (!dataDir.startsWith('/')) problems.push(`env JR_DATA_DIR: ${dataDir} is not an absolute path`);
  if (!dataMount) problems.push(`JR_DATA_DIR ${dataDir}: no volume is mounted there`);
  else if (!claimNames.has(dataMount.name) || (pod.volumes ?? []).some((v: Any) => v.name === dataMount.name))
    problems.push(`JR_DATA_DIR ${dataDir}: volume ${dataMount.name} is not a volumeClaimTemplate (a disk per replica)`);
  else if (dataMount.readOnly) problems.push('JR_DATA_DIR: mounted read-only');
  if (spec.persistentVolumeClaimRetentionPolicy?.whenScaled !== 'Retain')
    problems.push('StatefulSet: a scale-down would delete a journal (persistentVolumeClaimRetentionPolicy)');

  // TLS material from kubernetes.io/tls Secrets, mounted read-only
  const volumes = new Map<string, Any>((pod.volumes ?? []).map((v: Any) => [v.name, v]));
  for (const name of ['JR_TLS_CERT', 'JR_TLS_KEY', 'JR_AGENT_CA_CERT', 'JR_AGENT_CA_KEY']) {
    const file = env.get(name)?.value as string | undefined;
    if (!file) {
      problems.push(`env ${name}: not set (replicas need one server certificate and one agent CA)`);
      continue;
    }
    const mount = (container.volumeMounts ?? []).find((m: Any) => path.posix.dirname(file) === m.mountPath);
    const secretName = volumes.get(mount?.name)?.secret?.secretName as string | undefined;
    if (!mount || !secretName) problems.push(`env ${name}: ${file} is not in a mounted Secret`);
    else if (!mount.readOnly) problems.push(`env ${name}: its Secret ${secretName} is mounted writable`);
    else if (!secrets.get(secretName)?.has(path.posix.basename(file)))
      problems.push(`env ${name}: Secret ${secretName} declares no key ${path.posix.basename(file)}`);
  }

  // probes: HTTPS on the REST port, on paths jr-api serves without a token
  const probes: [string, string][] = [
    ['readinessProbe', '/readyz'],
    ['livenessProbe', '/healthz'],
    ['startupProbe', '/healthz'],
  ];
  for (const [probe, want] of probes) {
    const get = container[probe]?.httpGet;
    if (!get) {
      problems.push(`${probe}: missing or not httpGet`);
      continue;
    }
    if (get.path !== want) problems.push(`${probe}: path ${get.path}, want ${want}`);
    if (!facts.publicHealthRoutes.has(get.path)) problems.push(`${probe}: ${get.path} is not a public route of jr-api`);
    if (portNumber(get.port) !== httpPort) problems.push(`${probe}: port ${get.port} is not JR_HTTP_PORT`);
    if (get.scheme !== 'HTTPS') problems.push(`${probe}: scheme ${get.scheme}, jr-api serves HTTPS`);
  }

  // stopping: the grace period covers the preStop pause and jr-api's own stop
  const preStopS = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
  const graceS = pod.terminationGracePeriodSeconds ?? 30;
  if (graceS <= preStopS + facts.forcedStopMs / 1000)
    problems.push(`terminationGracePeriodSeconds ${graceS} <= preStop ${preStopS} s + jr-api's stop`);

  // resources and hardening
  const res = container.resources ?? {};
  if (!res.requests?.cpu || !res.requests?.memory || !res.limits?.memory)
    problems.push('resources: cpu and memory requests and a memory limit are needed');
  const sc = container.securityContext ?? {};
  if (!(pod.securityContext?.runAsNonRoot ?? sc.runAsNonRoot)) problems.push('securityContext: not runAsNonRoot');
  if (sc.readOnlyRootFilesystem !== true) problems.push('securityContext: root file system writable');
  if (sc.allowPrivilegeEscalation !== false) problems.push('securityContext: privilege escalation allowed');
  if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push('securityContext: capabilities not dropped');
  if (
    !(pod.topologySpreadConstraints ?? []).some(
      (t: Any) => t.topologyKey === 'topology.kubernetes.io/zone' && selects(t.labelSelector?.matchLabels, podLabels),
    )
  )
    problems.push('StatefulSet: no spread of its pods across zones');
  const image = String(container.image ?? '');
  if (!/(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/.test(image.replace(/^[^/]*\//, '')) || image.endsWith(':latest'))
    problems.push(`image ${image}: pin a tag or digest (not latest)`);

  // Services select the pods and target their named ports
  const services = new Map<string, Any>(of('Service').map((s) => [s.metadata.name, s]));
  const headless = services.get(spec.serviceName);
  if (headless?.spec?.clusterIP !== 'None') problems.push(`serviceName ${spec.serviceName}: not a headless Service`);
  for (const svc of services.values()) {
    if (!selects(svc.spec?.selector, podLabels)) problems.push(`Service ${svc.metadata.name}: selects no jr-api pod`);
    for (const p of svc.spec?.ports ?? [])
      if (portNumber(p.targetPort ?? p.port) === undefined)
        problems.push(`Service ${svc.metadata.name}: targetPort ${p.targetPort} is no container port`);
  }
  const servicePort = (pred: (p: Any) => boolean) =>
    [...services.values()].filter((s) => s !== headless).flatMap((s) => (s.spec?.ports ?? []).filter(pred));
  const rest = servicePort((p) => portNumber(p.targetPort) === httpPort);
  const grpc = servicePort((p) => portNumber(p.targetPort) === grpcPort);
  if (rest.length !== 1 || rest[0].port !== httpPort)
    problems.push('REST: want one Service port = JR_HTTP_PORT on the https port');
  if (grpc.length !== 1 || grpc[0].port !== grpcPort)
    problems.push('gRPC: want one Service port = JR_GRPC_PORT on the grpc port');
  else if (grpc[0].appProtocol !== 'grpc')
    problems.push(`gRPC: appProtocol ${grpc[0].appProtocol}; over TLS it is grpc (kubernetes.io/h2c is cleartext)`);

  // the PodDisruptionBudget covers exactly the StatefulSet's pods, one at a time
  const pdbs = of('PodDisruptionBudget');
  if (pdbs.length !== 1) problems.push(`want one PodDisruptionBudget, found ${pdbs.length}`);
  for (const pdb of pdbs) {
    if (JSON.stringify(pdb.spec?.selector?.matchLabels) !== JSON.stringify(spec.selector?.matchLabels))
      problems.push("PodDisruptionBudget: selector differs from the StatefulSet's");
    if (pdb.spec?.maxUnavailable !== 1) problems.push('PodDisruptionBudget: maxUnavailable is not 1');
  }

  // NetworkPolicy lets the two listeners in
  for (const np of of('NetworkPolicy')) {
    if (!selects(np.spec?.podSelector?.matchLabels, podLabels)) problems.push('NetworkPolicy: selects no pod');
    const open = new Set((np.spec?.ingress ?? []).flatMap((r: Any) => (r.ports ?? []).map((p: Any) => p.port)));
    for (const p of [httpPort, grpcPort]) if (!open.has(p)) problems.push(`NetworkPolicy: port ${p} not allowed in`);
  }

  // ServiceMonitor: /metrics over HTTPS with a token, job named as the alert rules expect
  for (const sm of of('ServiceMonitor')) {
    const target = [...services.values()].find((s) => selects(sm.spec?.selector?.matchLabels, s.metadata.labels));
    if (!target) {
      problems.push('ServiceMonitor: selects no Service');
      continue;
    }
    // a replica that is not ready (journal full) must stay a target: JrJournalFull is about it
    if (target.spec?.publishNotReadyAddresses !== true)
      problems.push(`ServiceMonitor: Service ${target.metadata.name} hides not-ready replicas from the scrape`);
    const job = target.metadata.labels?.[sm.spec?.jobLabel] ?? target.metadata.name;
    if (job !== facts.prometheusJob)
      problems.push(`ServiceMonitor: job ${job}, the alert rules expect ${facts.prometheusJob}`);
    for (const ep of sm.spec?.endpoints ?? []) {
      const port = (target.spec?.ports ?? []).find((p: Any) => p.name === ep.port);
      if (!port || portNumber(port.targetPort) !== httpPort)
        problems.push(`ServiceMonitor: port ${ep.port} is not REST`);
      if (ep.path !== '/metrics' || !facts.healthRoutes.has(ep.path)) problems.push(`ServiceMonitor: path ${ep.path}`);
      if (ep.scheme !== 'https') problems.push(`ServiceMonitor: scheme ${ep.scheme}, jr-api serves HTTPS`);
      if (ep.authorization?.type !== 'Bearer' || !ep.authorization?.credentials?.name)
        problems.push('ServiceMonitor: /metrics needs a bearer token (metrics:read)');
    }
  }

  // every Secret referenced is declared (secrets.example.yaml) and documented (README)
  const refs: [string, string | undefined][] = [];
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) refs.push([ref.name, ref.key]);
  }
  for (const v of pod.volumes ?? []) if (v.secret) refs.push([v.secret.secretName, undefined]);
  for (const sm of of('ServiceMonitor'))
    for (const ep of sm.spec?.endpoints ?? []) {
      const c = ep.authorization?.credentials;
      if (c) refs.push([c.name, c.key]);
      const ca = ep.tlsConfig?.ca?.secret;
      if (ca) refs.push([ca.name, ca.key]);
    }
  for (const [name, key] of refs) {
    if (!secrets.has(name)) problems.push(`Secret ${name}: referenced but not declared in secrets.example.yaml`);
    else if (key !== undefined && !secrets.get(name)?.has(key))
      problems.push(`Secret ${name}: key ${key} referenced but not declared in secrets.example.yaml`);
    if (!readme.includes(`\`${name}\``)) problems.push(`Secret ${name}: not documented in infra/kubernetes/README.md`);
    if (key !== undefined && !readme.includes(`\`${key}\``))
      problems.push(`Secret ${name}: key ${key} not documented in infra/kubernetes/README.md`);
  }
  return [...new Set(problems)];
}
