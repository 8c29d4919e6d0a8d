export * from './certificates';
export * from './fingerprint';
export * from './pem';
export * from './discover';
export * from './client-certs';
