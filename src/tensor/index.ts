// Layer: tensor. Public surface of the tensor engine.
export { Tensor, callOp, call1, call2, callList, opId, type OpArg, type OpResult, type Shape, type ScalarOrTensor } from './tensor.js';
export * from './create.js';
export * from './autograd.js';
export { tidy, keep, dispose, noGrad, enableGrad, liveTensors, type Disposable } from './scope.js';
export { type DType, type AnyTypedArray, dtypeSize, isFloating, dtypeOfArray } from './dtype.js';
export * from './distributed.js';
export * from './collectives.js';
export * from './rendezvous.js';
export * from './device.js';
export * from './engine-info.js';
export { ScriptModule } from './script-module.js';
