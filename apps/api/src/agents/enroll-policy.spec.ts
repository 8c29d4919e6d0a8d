import { hashSecret } from '../auth/tokens';
import { declarationRefusal, keyRefusal, takeoverRefusal, type EnrollGrant } from './enroll-policy';

describe('declarationRefusal', () => {
  const token: EnrollGrant = { kind: 'operator', tokenId: 'et_x', pool: 'web', labels: { os: 'linux', zone: 'a' } };

  it('lets the bootstrap token declare anything', () => {
    expect(declarationRefusal({ kind: 'bootstrap' }, 'any', { gpu: 'yes' })).toBeUndefined();
  });

  it.each([[{}], [{ os: 'linux' }], [{ os: 'linux', zone: 'a' }]])('allows the token pool with labels %j', (labels) =>
    expect(declarationRefusal(token, 'web', labels)).toBeUndefined(),
  );

  it.each([
    ['db', {}, 'is for pool "web", not "db"'],
    ['web', { gpu: 'yes' }, 'refused: gpu=yes'],
    ['web', { os: 'windows' }, 'refused: os=windows'],
    ['web', { os: 'linux', zone: '' }, 'refused: zone='],
    ['web', { constructor: 'x' }, 'refused: constructor=x'],
  ])('refuses pool %s with labels %j', (pool, labels, why) =>
    expect(declarationRefusal(token, pool, labels)).toContain(why),
  );
});

describe('takeoverRefusal', () => {
  const agent = { id: 'a_1', name: 'web-01', credential_hash: hashSecret('s'.repeat(43)), revoked_at: null };

  it('accepts only the agent’s own current credential', () => {
    expect(takeoverRefusal(agent, { agentId: 'a_1', secret: 's'.repeat(43) })).toBeUndefined();
    expect(takeoverRefusal(agent, undefined)).toContain('needs its current credential');
    expect(takeoverRefusal(agent, { agentId: 'a_1', secret: 't'.repeat(43) })).toContain(
      'needs its current credential',
    );
    expect(takeoverRefusal(agent, { agentId: 'a_2', secret: 's'.repeat(43) })).toContain(
      'needs its current credential',
    );
  });

  it('refuses a revoked agent even with its credential', () => {
    const revoked = { ...agent, revoked_at: new Date() };
    expect(takeoverRefusal(revoked, { agentId: 'a_1', secret: 's'.repeat(43) })).toContain('revoked by an operator');
  });
});

describe('keyRefusal', () => {
  const agent = { id: 'a_1', cert_key_sha256: 'sha256:aa' };

  it('lets an agent without a pinned key, or a CSR for its key, through', () => {
    expect(keyRefusal({ ...agent, cert_key_sha256: null }, undefined)).toBeUndefined();
    expect(keyRefusal({ ...agent, cert_key_sha256: null }, 'sha256:bb')).toBeUndefined();
    expect(keyRefusal(agent, 'sha256:aa')).toBeUndefined();
  });

  it('refuses another key, or none, for an agent whose key is pinned', () => {
    expect(keyRefusal(agent, 'sha256:bb')).toContain('another key');
    expect(keyRefusal(agent, undefined)).toContain('jr agents rm a_1');
  });
});
