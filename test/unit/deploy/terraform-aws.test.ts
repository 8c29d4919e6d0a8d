/**
 * infra/terraform/aws, parsed with HashiCorp's HCL parser (@cdktf/hcl2json, WebAssembly) and checked structurally.
 * `terraform init`/`validate`/`plan` need the AWS provider from the registry, which this machine cannot reach, so
 * provider schemas (attribute names, types) are NOT checked here; `terraform fmt -check` runs when a terraform
 * binary works. Broken copies show the checker refuses what is wrong.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { checkAws, parseTerraformDir, readTfFiles, references } from './terraform-checks';

const ROOT = path.resolve(__dirname, '../../..');
const ROOT_DIR = path.join(ROOT, 'infra/terraform/aws');
const SITE_DIR = path.join(ROOT_DIR, 'modules/site');

/** The checker's problems for the configuration with `edit` applied to one file's text. */
async function problemsWith(dir: 'root' | 'site', file: string, edit: (text: string) => string): Promise<string[]> {
  const texts = readTfFiles(dir === 'root' ? ROOT_DIR : SITE_DIR);
  const before = texts[file];
  if (before === undefined) throw new Error(`no ${file}`);
  texts[file] = edit(before);
  if (texts[file] === before) throw new Error(`the edit of ${file} changed nothing`);
  const root = await parseTerraformDir(ROOT_DIR, dir === 'root' ? texts : undefined);
  const site = await parseTerraformDir(SITE_DIR, dir === 'site' ? texts : undefined);
  return checkAws(root, site);
}

describe('infra/terraform/aws', () => {
  test('parses and has the two-region shape, with every reference resolved', async () => {
    const root = await parseTerraformDir(ROOT_DIR);
    const site = await parseTerraformDir(SITE_DIR);
    expect(checkAws(root, site)).toEqual([]);
    expect(Object.keys(root.blocks.module ?? {}).sort()).toEqual(['primary', 'secondary']);
  });

  test('the reference scanner finds what it must', () => {
    expect(references('${aws_eks_cluster.this.vpc_config[0].cluster_security_group_id}')).toEqual([
      'aws_eks_cluster.this',
    ]);
    expect(references('${var.role == "primary" ? aws_db_instance.primary[0] : local.x}')).toEqual([
      'var.role',
      'aws_db_instance.primary',
      'local.x',
    ]);
    expect(references('${data.aws_iam_policy_document.node_assume.json}')).toEqual([
      'data.aws_iam_policy_document.node_assume',
    ]);
    expect(references('arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy')).toEqual([]);
    expect(references('${each.value[0]} ${count.index} ${path.module}')).toEqual([]);
  });

  const broken: [string, 'root' | 'site', string, (t: string) => string, string][] = [
    [
      'an undeclared variable',
      'site',
      'eks.tf',
      (t) => t.replace('var.kubernetes_version', 'var.k8s_version'),
      'var.k8s_version is not declared',
    ],
    [
      'a resource that does not exist',
      'site',
      'nlb.tf',
      (t) => t.replace('aws_lb.this.arn', 'aws_lb.main.arn'),
      'aws_lb.main is not declared',
    ],
    [
      'a module output that does not exist',
      'root',
      'dns.tf',
      (t) => t.replace('module.secondary.nlb_zone_id', 'module.secondary.zone'),
      'module.secondary.zone is no output',
    ],
    [
      'a module argument it does not take',
      'root',
      'main.tf',
      (t) => t.replace('  role                     = "secondary"', '  role = "secondary"\n  region = "x"'),
      'module secondary: region is not a variable',
    ],
    [
      'a missing provider alias',
      'root',
      'providers.tf',
      (t) => t.replace('alias  = "secondary"', 'alias  = "backup"'),
      'provider aws: no alias secondary',
    ],
    [
      'no SECONDARY record',
      'root',
      'dns.tf',
      (t) => t.replace('type = "SECONDARY"', 'type = "PRIMARY"'),
      'want one SECONDARY failover record',
    ],
    [
      'a health check on the wrong path',
      'root',
      'dns.tf',
      (t) => t.replace('"/readyz"', '"/healthz"'),
      'path /healthz, want /readyz',
    ],
    [
      'a plain-HTTP health check',
      'root',
      'dns.tf',
      (t) => t.replace('type              = "HTTPS"', 'type = "HTTP"'),
      'type HTTP',
    ],
    [
      'PostgreSQL without Multi-AZ',
      'site',
      'postgres.tf',
      (t) => t.replace('multi_az                = true', 'multi_az = false'),
      'aws_db_instance.primary: not multi_az',
    ],
    [
      'no cross-region replica',
      'root',
      'main.tf',
      (t) => t.replace('module.primary.postgres_arn', 'null'),
      'replicate_source_db is not',
    ],
    [
      'Redis without automatic failover',
      'site',
      'redis.tf',
      (t) => t.replace('automatic_failover_enabled = true', 'automatic_failover_enabled = false'),
      'automatic_failover_enabled is not true',
    ],
    ['Redis that evicts', 'site', 'redis.tf', (t) => t.replace('"noeviction"', '"allkeys-lru"'), 'noeviction'],
    [
      'a hard-coded Redis token',
      'site',
      'redis.tf',
      (t) => t.replace('var.redis_auth_token', '"s3cr3t-t0ken-in-git"').replace('${"', '"'),
      'auth_token is a literal secret',
    ],
    [
      'a secret variable with a default',
      'root',
      'variables.tf',
      (t) => t.replace('  sensitive   = true\n}', '  sensitive   = true\n  default     = "x"\n}'),
      'variable redis_auth_token: a secret with a default',
    ],
    [
      'a TLS listener on gRPC',
      'site',
      'nlb.tf',
      (t) => t.replace(/(port\s+= var\.grpc_port\n\s+protocol\s+= )"TCP"/, '$1"TLS"'),
      'TLS must pass through',
    ],
    [
      'an unpinned provider',
      'site',
      'versions.tf',
      (t) => t.replace('version = "~> 6.0"', 'version = ">= 5"'),
      'required_providers.aws is not pinned',
    ],
    [
      'a variable without description',
      'site',
      'variables.tf',
      (t) => t.replace('  description = "The VPC the site runs in."\n', ''),
      'variable vpc_id: no description',
    ],
  ];
  test.each(broken)('refuses %s', async (_what, dir, file, edit, problem) => {
    expect(await problemsWith(dir, file, edit)).toEqual(expect.arrayContaining([expect.stringContaining(problem)]));
  });

  test('refuses HCL that does not parse', async () => {
    await expect(
      problemsWith('site', 'redis.tf', (t) => t.replace('num_cache_clusters         = 2', 'num_cache_clusters = ')),
    ).rejects.toThrow(/redis\.tf/);
  });

  const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8', timeout: 10_000 });
  const hasTerraform = terraform.status === 0 && /^Terraform v/m.test(terraform.stdout ?? '');
  // `terraform fmt` needs no provider and no network; init/validate/plan need both and are not run
  (hasTerraform ? test : test.skip)('terraform fmt -check (skipped when no terraform binary runs here)', () => {
    const fmt = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', 'infra/terraform'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect({ status: fmt.status, diff: fmt.stdout }).toEqual({ status: 0, diff: '' });
  });
});
