export * from './database';
export * from './net';
export * from './private-services';
export * from './redis';
export * from './services';
export * from './wait';
export * from './processes';
export * from './stack';
