export * from './database';
export * from './net';
export * from './redis';
export * from './wait';
