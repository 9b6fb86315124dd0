export * from './errors.js';
export * from './jute.js';
export * from './codec.js';
export * from './constants.js';
export * from './records.js';
export * from './handshake.js';
export * from './multi.js';
export * from './frame.js';
