/**
 * The bootstrap admin token (JR_ADMIN_TOKEN) of every test API and e2e stack: one constant, at least
 * the 32 characters the API demands.
 */
export const TEST_ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';
