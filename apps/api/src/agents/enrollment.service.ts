import { Inject, Injectable } from '@nestjs/common';
import { DomainError, newAgentId, type pb } from '@jr/contracts';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { hashSecret, newAgentSecret, parseAgentCredential, type AgentCredential } from '../auth/tokens';
import { validateEnroll } from '../grpc/request-validation';
import { declarationRefusal, keyRefusal, takeoverRefusal, type EnrollGrant } from './enroll-policy';
import { AgentCertificatesService } from './agent-certificates.service';
import { EnrollTokensService, usedUp } from './enroll-tokens.service';
import { EnrollmentRepository, type EnrollDecision, type EnrollSeen } from './enrollment.repository';

type Request = ReturnType<typeof validateEnroll>;

/**
 * Enroll: the token decides what the agent may be (pool, labels), an existing agent is re-enrolled only
 * with proof of its current credential (which it keeps), and the caps (token uses, JR_MAX_POOLS) hold.
 */
@Injectable()
export class EnrollmentService {
  constructor(
    private readonly tokens: EnrollTokensService,
    private readonly enrollments: EnrollmentRepository,
    private readonly certs: AgentCertificatesService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async enroll(authorization: string | undefined, req: pb.EnrollRequest__Output): Promise<pb.EnrollResponse> {
    const grant = await this.tokens.grantFor(authorization);
    const e = validateEnroll(req);
    const refusal = declarationRefusal(grant, e.pool, e.labels);
    if (refusal)
      throw new DomainError('FORBIDDEN', refusal, {
        refusal: grant.kind === 'operator' && e.pool !== grant.pool ? 'pool_not_allowed' : 'labels_not_allowed',
      });
    const proof = proofOf(e);
    const secret = e.credentialSecret || newAgentSecret();
    const tokenId = grant.kind === 'operator' ? grant.tokenId : undefined;
    const key = this.certs.enabled && e.csrPem ? await this.certs.keyOf(e.csrPem) : undefined;
    const applied = await this.enrollments.enroll(
      {
        enrollment: { name: e.name, pool: e.pool, labels: e.labels, slots: e.slots, version: e.version },
        previousId: e.previousAgentId || proof?.agentId || undefined,
        newId: newAgentId(),
        newCredentialHash: hashSecret(secret),
        keySha256: key,
        tokenId,
        now: new Date(this.clock.now()),
      },
      (seen) => this.decide(seen, e, proof, grant, key),
    );
    if (applied.kind === 'token_spent') throw usedUp(tokenId ?? '');
    // a proven re-enrolment keeps the credential it proved (a retry of the first one: the secret it chose),
    // so a lost answer cannot lock the agent out
    const credential = applied.existing && proof ? `${applied.id}.${proof.secret}` : `${applied.id}.${secret}`;
    const certificateChainPem = await this.certs.issue(applied.id, e.csrPem);
    return {
      agentId: applied.id,
      credential,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      certificateChainPem,
    };
  }

  private decide(
    seen: EnrollSeen,
    e: Request,
    proof: AgentCredential | undefined,
    grant: EnrollGrant,
    key: string | undefined,
  ): EnrollDecision {
    const target = seen.previous ?? seen.sameName[0];
    if (target) {
      const refusal =
        takeoverRefusal(target, proof ?? retryProof(target, e)) ??
        (this.certs.enabled ? keyRefusal(target, key) : undefined);
      if (refusal) throw new DomainError('FORBIDDEN', refusal, { refusal: target.revoked_at ? 'revoked' : 'takeover' });
      // renaming into a name another agent holds (agents of older versions may share one: they keep it)
      const holder = seen.sameName.find((a) => a.id !== target.id);
      if (holder && target.name !== e.name)
        throw new DomainError('FORBIDDEN', `the name ${JSON.stringify(e.name)} belongs to agent ${holder.id}`, {
          refusal: 'takeover',
        });
    }
    if (!seen.poolsInUse.includes(e.pool) && seen.poolsInUse.length >= this.config.maxPools)
      throw new DomainError(
        'QUOTA_EXCEEDED',
        `pool ${e.pool}: ${seen.poolsInUse.length} pools are served already, the most JR_MAX_POOLS allows; ` +
          'enroll into one of them, or remove the agents of a pool no longer used',
        { refusal: 'pool_cap' },
      );
    const tokenId = grant.kind === 'operator' ? grant.tokenId : undefined;
    return {
      existingId: target?.id,
      consumeToken: tokenId !== undefined && target?.enroll_token_id !== tokenId,
    };
  }
}

/** A retried enrolment whose first answer was lost: the agent holds the secret the agent row was made with. */
function retryProof(target: { id: string }, e: Request): AgentCredential | undefined {
  return e.credentialSecret ? { agentId: target.id, secret: e.credentialSecret } : undefined;
}

/** `previous_credential`, which must be the credential of `previous_agent_id` when both are given. */
function proofOf(e: Request): AgentCredential | undefined {
  if (!e.previousCredential) return undefined;
  const proof = parseAgentCredential(e.previousCredential);
  if (!proof) throw new DomainError('INVALID_INPUT', 'previous_credential: not an agent credential');
  if (e.previousAgentId && proof.agentId !== e.previousAgentId)
    throw new DomainError('INVALID_INPUT', 'previous_credential: not the credential of previous_agent_id');
  return proof;
}
