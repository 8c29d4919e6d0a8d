export * from './backoff';
export * from './sleep';
