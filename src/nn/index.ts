// Layer: nn. Public surface.
export { Module, type StateDict, type LoadStateDictOptions } from './module.js';
export * from './layers.js';
export * as functional from './functional.js';
