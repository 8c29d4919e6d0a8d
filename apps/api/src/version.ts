/** The running jr-api's version (jr_build_info, the service.version of its spans). */
export const API_VERSION = '0.1.0';
