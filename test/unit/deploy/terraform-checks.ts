/**
 * infra/terraform/aws read with @cdktf/hcl2json (HashiCorp's HCL parser compiled to WebAssembly: no terraform
 * binary, no providers, no network) and checked structurally: references resolve, providers and modules are wired,
 * and the parts a two-region jobrunner depends on are there. Used by terraform-aws.test.ts, on the real
 * configuration and on broken copies of it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   hcl2json returns untyped JSON; the checks read what they need */
type Any = any;

/**
 * Loaded by a specifier TypeScript does not resolve: the package's typings pull in the DOM library
 * (`/// <reference lib="dom" />`), which breaks Node's types everywhere else in the type check.
 */
const HCL2JSON: string = '@cdktf/hcl2json';
type Hcl2Json = { parse(filename: string, contents: string): Promise<Record<string, unknown>> };

/** Top-level blocks of a directory: block type → (for resource/data: type.name, else name) → bodies. */
export interface TerraformDir {
  dir: string;
  blocks: Record<string, Record<string, Any[]>>;
}

/** Parses every *.tf file of `dir` (or the given file texts, for broken copies) and merges their blocks. */
export async function parseTerraformDir(dir: string, texts?: Record<string, string>): Promise<TerraformDir> {
  const { parse } = (await import(HCL2JSON)) as Hcl2Json;
  const files = texts ?? readTfFiles(dir);
  const blocks: TerraformDir['blocks'] = {};
  for (const [file, text] of Object.entries(files)) {
    const json = await parse(file, text);
    for (const [type, body] of Object.entries(json)) {
      const into = (blocks[type] ??= {});
      if (type === 'resource' || type === 'data') {
        for (const [rtype, named] of Object.entries(body as Record<string, Record<string, Any[]>>))
          for (const [name, list] of Object.entries(named)) (into[`${rtype}.${name}`] ??= []).push(...list);
      } else if (type === 'terraform' || type === 'locals') {
        (into[''] ??= []).push(...(body as Any[]));
      } else {
        for (const [name, list] of Object.entries(body as Record<string, Any[]>)) (into[name] ??= []).push(...list);
      }
    }
  }
  return { dir, blocks };
}

export function readTfFiles(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.tf'))
      .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
  );
}

/** Every string of a JSON value with its path. */
function* strings(value: unknown, at = ''): Generator<[string, string]> {
  if (typeof value === 'string') yield [at, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, `${at}[${i}]`);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) yield* strings(v, at ? `${at}.${k}` : k);
}

/** References in the `${…}` expressions of a string: var.x, local.x, module.x, data.t.n, t.n (resources), p.alias. */
export function references(text: string): string[] {
  if (!text.includes('${')) return [];
  const refs: string[] = [];
  const re = /(?<![\w.\-"/:])([a-z][a-z0-9]*(?:_[a-z0-9]+)*)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?/g;
  for (const m of text.matchAll(re)) {
    const [, head, second, third] = m as unknown as [string, string, string, string | undefined];
    if (['each', 'count', 'path', 'self', 'terraform', 'pair'].includes(head)) continue;
    if (head === 'data') refs.push(`data.${second}.${third}`);
    else if (['var', 'local', 'module'].includes(head) || head === 'aws') refs.push(`${head}.${second}`);
    else if (head.includes('_')) refs.push(`${head}.${second}`);
  }
  return refs;
}

const literal = (v: unknown) => typeof v === 'string' && !v.includes('${');
const first = (list: Any[] | undefined): Any => (list ?? [])[0] ?? {};

/** Problems of one directory on its own: undeclared references, variables without description or type, secrets. */
export function checkDir(tf: TerraformDir): string[] {
  const problems: string[] = [];
  const b = tf.blocks;
  const declared = (ref: string): boolean => {
    const [head, ...rest] = ref.split('.');
    const name = rest.join('.');
    if (head === 'var') return !!b.variable?.[name];
    if (head === 'local') return (b.locals?.[''] ?? []).some((l) => name in l);
    if (head === 'module') return !!b.module?.[name];
    if (head === 'data') return !!b.data?.[name];
    if (head === 'aws') return (b.provider?.aws ?? []).some((p) => p.alias === name);
    return !!b.resource?.[ref];
  };
  for (const [type, named] of Object.entries(b))
    for (const [name, list] of Object.entries(named))
      for (const [at, text] of strings(list))
        for (const ref of references(text))
          if (!declared(ref)) problems.push(`${type} ${name} (${at}): ${ref} is not declared in ${tf.dir}`);

  for (const [name, list] of Object.entries(b.variable ?? {})) {
    const v = first(list);
    if (!v.description) problems.push(`variable ${name}: no description`);
    if (!v.type) problems.push(`variable ${name}: no type`);
    if (/token|password|secret/.test(name)) {
      if (v.sensitive !== true) problems.push(`variable ${name}: a secret not marked sensitive`);
      if ('default' in v) problems.push(`variable ${name}: a secret with a default value`);
    }
  }
  for (const [name, list] of Object.entries(b.resource ?? {}))
    for (const [at, value] of strings(list))
      if (/(^|\.)(password|auth_token|secret_key|access_key|token)$/.test(at) && literal(value))
        problems.push(`resource ${name}: ${at} is a literal secret`);
  const tfBlock = first(b.terraform?.['']);
  if (!tfBlock.required_version) problems.push(`${tf.dir}: no required_version`);
  const aws = first(tfBlock.required_providers)?.aws;
  if (aws?.source !== 'hashicorp/aws' || !/^~>\s*\d+\.\d+/.test(aws?.version ?? ''))
    problems.push(`${tf.dir}: required_providers.aws is not pinned (source hashicorp/aws, version ~> X.Y)`);
  return problems;
}

/** The module call's arguments against the module's variables: unknown arguments, missing required ones. */
export function checkModuleCall(call: Any, name: string, mod: TerraformDir): string[] {
  const problems: string[] = [];
  const vars = mod.blocks.variable ?? {};
  const meta = new Set(['source', 'providers', 'version', 'count', 'for_each', 'depends_on']);
  for (const arg of Object.keys(call))
    if (!meta.has(arg) && !vars[arg]) problems.push(`module ${name}: ${arg} is not a variable of the module`);
  for (const [v, list] of Object.entries(vars))
    if (!('default' in first(list)) && !(v in call)) problems.push(`module ${name}: required variable ${v} not passed`);
  return problems;
}

/** The two-region shape: providers, modules, failover DNS on /readyz, RDS, ElastiCache and NLB settings. */
export function checkAws(root: TerraformDir, site: TerraformDir): string[] {
  const problems = [...checkDir(root), ...checkDir(site)];
  const r = root.blocks;
  const s = site.blocks;
  const res = (tf: TerraformDir, type: string) =>
    Object.entries(tf.blocks.resource ?? {})
      .filter(([k]) => k.startsWith(`${type}.`))
      .map(([k, list]) => [k, first(list)] as [string, Any]);

  // a provider per region, a site module per provider
  const aliases = (r.provider?.aws ?? []).map((p) => p.alias);
  for (const alias of ['primary', 'secondary']) {
    if (!aliases.includes(alias)) problems.push(`provider aws: no alias ${alias}`);
    const call = first(r.module?.[alias]);
    if (call.source !== './modules/site') problems.push(`module ${alias}: not ./modules/site`);
    if (call.providers?.aws !== `\${aws.${alias}}`) problems.push(`module ${alias}: not given provider aws.${alias}`);
    if (call.role !== alias) problems.push(`module ${alias}: role ${call.role}`);
    problems.push(...checkModuleCall(call, alias, site));
  }
  const regions = (r.provider?.aws ?? []).map((p) => p.region);
  if (new Set(regions).size !== 2) problems.push('provider aws: the two aliases must be two regions');
  if (first(r.module?.secondary).replicate_source_db !== '${module.primary.postgres_arn}')
    problems.push("module secondary: replicate_source_db is not the primary's PostgreSQL ARN");
  const outputs = s.output ?? {};
  for (const [type, named] of Object.entries(r))
    for (const [name, list] of Object.entries(named))
      for (const [, text] of strings(list))
        for (const m of text.matchAll(/module\.(primary|secondary)\.(\w+)/g))
          if (!outputs[m[2] as string])
            problems.push(`${type} ${name}: module.${m[1]}.${m[2]} is no output of the module`);

  // Route 53: a PRIMARY and a SECONDARY record of one name, each with an HTTPS health check on /readyz
  const records = res(root, 'aws_route53_record');
  const checks = new Map(res(root, 'aws_route53_health_check'));
  const restPort = first(r.variable?.rest_port).default;
  for (const type of ['PRIMARY', 'SECONDARY']) {
    const rec = records.filter(([, v]) => first(v.failover_routing_policy).type === type);
    if (rec.length !== 1) {
      problems.push(`Route 53: want one ${type} failover record, found ${rec.length}`);
      continue;
    }
    const [name, record] = rec[0] as [string, Any];
    const hc = /^\$\{(aws_route53_health_check\.\w+)\.id\}$/.exec(record.health_check_id ?? '')?.[1];
    const check = hc ? checks.get(hc) : undefined;
    if (!check) problems.push(`${name}: no health check`);
    else {
      if (check.type !== 'HTTPS') problems.push(`${hc}: type ${check.type}, jr-api serves HTTPS`);
      if (check.resource_path !== '/readyz') problems.push(`${hc}: path ${check.resource_path}, want /readyz`);
      if (check.port !== '${var.rest_port}' || restPort !== 8080) problems.push(`${hc}: not on the REST port`);
    }
    if (!first(record.alias).evaluate_target_health) problems.push(`${name}: alias does not evaluate target health`);
  }
  if (new Set(records.map(([, v]) => v.name)).size !== 1)
    problems.push('Route 53: the failover records differ in name');

  // PostgreSQL: Multi-AZ, encrypted, backed up, protected; the replica across regions
  const db = new Map(res(site, 'aws_db_instance'));
  const primary = db.get('aws_db_instance.primary');
  const replica = db.get('aws_db_instance.replica');
  for (const [name, d] of [
    ['primary', primary],
    ['replica', replica],
  ] as const) {
    if (!d) {
      problems.push(`aws_db_instance.${name}: missing`);
      continue;
    }
    if (d.multi_az !== true) problems.push(`aws_db_instance.${name}: not multi_az`);
    if (d.storage_encrypted !== true) problems.push(`aws_db_instance.${name}: storage not encrypted`);
    if (d.deletion_protection !== true) problems.push(`aws_db_instance.${name}: no deletion protection`);
    if (!d.backup_retention_period) problems.push(`aws_db_instance.${name}: no backups`);
  }
  if (primary && primary.manage_master_user_password !== true)
    problems.push('aws_db_instance.primary: the password must be managed by RDS (Secrets Manager), not Terraform');
  if (replica && replica.replicate_source_db !== '${var.replicate_source_db}')
    problems.push('aws_db_instance.replica: replicate_source_db is not the cross-region source');

  // Redis: replication with automatic failover across zones, TLS, AUTH, noeviction
  const [rg] = res(site, 'aws_elasticache_replication_group');
  if (!rg) problems.push('aws_elasticache_replication_group: missing');
  else {
    const g = rg[1];
    for (const flag of [
      'automatic_failover_enabled',
      'multi_az_enabled',
      'transit_encryption_enabled',
      'at_rest_encryption_enabled',
    ])
      if (g[flag] !== true) problems.push(`${rg[0]}: ${flag} is not true`);
    if (!(g.num_cache_clusters >= 2)) problems.push(`${rg[0]}: fewer than 2 nodes`);
    if (g.auth_token !== '${var.redis_auth_token}') problems.push(`${rg[0]}: auth_token is not the sensitive variable`);
    const pg = /^\$\{(aws_elasticache_parameter_group\.\w+)\.name\}$/.exec(g.parameter_group_name ?? '')?.[1];
    const params = pg ? (first(s.resource?.[pg]).parameter ?? []) : [];
    if (!params.some((p: Any) => p.name === 'maxmemory-policy' && p.value === 'noeviction'))
      problems.push(`${rg[0]}: its parameter group does not set maxmemory-policy noeviction (BullMQ)`);
  }

  // NLB: network, a TCP listener on each of JR_HTTP_PORT and JR_GRPC_PORT, health checks on /readyz
  const lbs = res(site, 'aws_lb');
  if (lbs.length !== 1 || lbs[0]?.[1].load_balancer_type !== 'network') problems.push('aws_lb: want one network LB');
  const listeners = res(site, 'aws_lb_listener').map(([, l]) => l);
  const portVar = (v: string) => `\${var.${v}}`;
  for (const [port, value] of [
    ['rest_port', 8080],
    ['grpc_port', 50051],
  ] as const) {
    const l = listeners.find((x) => x.port === portVar(port));
    if (!l) problems.push(`aws_lb_listener: none on var.${port}`);
    else if (l.protocol !== 'TCP')
      problems.push(`aws_lb_listener on ${port}: ${l.protocol}; TLS must pass through (mTLS)`);
    if (first(r.variable?.[port]).default !== value) problems.push(`variable ${port}: default is not ${value}`);
  }
  for (const [name, tg] of res(site, 'aws_lb_target_group')) {
    const hc = first(tg.health_check);
    if (hc.protocol !== 'HTTPS' || hc.path !== '/readyz') problems.push(`${name}: health check is not HTTPS /readyz`);
  }
  return problems;
}
