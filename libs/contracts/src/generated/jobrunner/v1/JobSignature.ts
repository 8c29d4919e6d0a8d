// Original file: proto/jobrunner/v1/agent.proto


/**
 * Ed25519 over the RFC 8785 (JCS) form of {purpose, alg, keyId, notAfter, job}, where job is this
 * JobSpec as the agent sees it (libs/contracts/src/job-signature.ts).
 */
export interface JobSignature {
  /**
   * "ed25519"
   */
  'alg'?: (string);
  /**
   * first 16 hex digits of the SHA-256 of the public key's SPKI DER
   */
  'keyId'?: (string);
  /**
   * base64url, no padding
   */
  'sig'?: (string);
  /**
   * RFC 3339 UTC: agents refuse the signature after this
   */
  'notAfter'?: (string);
}

/**
 * Ed25519 over the RFC 8785 (JCS) form of {purpose, alg, keyId, notAfter, job}, where job is this
 * JobSpec as the agent sees it (libs/contracts/src/job-signature.ts).
 */
export interface JobSignature__Output {
  /**
   * "ed25519"
   */
  'alg': (string);
  /**
   * first 16 hex digits of the SHA-256 of the public key's SPKI DER
   */
  'keyId': (string);
  /**
   * base64url, no padding
   */
  'sig': (string);
  /**
   * RFC 3339 UTC: agents refuse the signature after this
   */
  'notAfter': (string);
}
