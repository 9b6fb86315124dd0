export { writeDevConfig } from './devConfig.js';
