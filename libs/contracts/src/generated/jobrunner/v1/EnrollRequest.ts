// Original file: proto/jobrunner/v1/agent.proto


export interface EnrollRequest {
  /**
   * human name, e.g. the host name
   */
  'name'?: (string);
  'pool'?: (string);
  'labels'?: ({[key: string]: string});
  'slots'?: (number);
  'version'?: (string);
  /**
   * Set when the agent re-enrolls: the API keeps the same agent id if the name matches.
   */
  'previousAgentId'?: (string);
  /**
   * Proof of possession when re-enrolling an existing agent (by previous_agent_id or by name): that
   * agent's current credential "<agent_id>.<secret>". Without it the enroll token alone cannot take
   * over an enrolled agent (PERMISSION_DENIED).
   */
  'previousCredential'?: (string);
  /**
   * The secret half of the credential the agent asks for ("<agent_id>.<secret>"): 43 to 128 base64url
   * characters it drew itself, the same on every retry of one enrolment, so that a retry whose first
   * answer was lost gets the same agent instead of being refused as a takeover. Empty: the API draws one.
   */
  'credentialSecret'?: (string);
  /**
   * PKCS#10 certificate request (PEM) for the agent's own ECDSA P-256 key, self-signed with it. Over TLS
   * the API signs it into the agent's client certificate (EnrollResponse.certificate_chain_pem), which
   * every other call must present (mutual TLS). Re-enrolling an agent needs a CSR for the key of its
   * earlier certificates: the CSR's signature proves possession of that key. Ignored in plain text.
   */
  'csrPem'?: (string);
}

export interface EnrollRequest__Output {
  /**
   * human name, e.g. the host name
   */
  'name': (string);
  'pool': (string);
  'labels': ({[key: string]: string});
  'slots': (number);
  'version': (string);
  /**
   * Set when the agent re-enrolls: the API keeps the same agent id if the name matches.
   */
  'previousAgentId': (string);
  /**
   * Proof of possession when re-enrolling an existing agent (by previous_agent_id or by name): that
   * agent's current credential "<agent_id>.<secret>". Without it the enroll token alone cannot take
   * over an enrolled agent (PERMISSION_DENIED).
   */
  'previousCredential': (string);
  /**
   * The secret half of the credential the agent asks for ("<agent_id>.<secret>"): 43 to 128 base64url
   * characters it drew itself, the same on every retry of one enrolment, so that a retry whose first
   * answer was lost gets the same agent instead of being refused as a takeover. Empty: the API draws one.
   */
  'credentialSecret': (string);
  /**
   * PKCS#10 certificate request (PEM) for the agent's own ECDSA P-256 key, self-signed with it. Over TLS
   * the API signs it into the agent's client certificate (EnrollResponse.certificate_chain_pem), which
   * every other call must present (mutual TLS). Re-enrolling an agent needs a CSR for the key of its
   * earlier certificates: the CSR's signature proves possession of that key. Ignored in plain text.
   */
  'csrPem': (string);
}
