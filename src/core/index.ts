export type { Action, Params, RunOptions } from './types';
export { BaseNode, type AnyNode } from './base-node';
export { Node, type NodeOptions } from './node';
export { BatchNode, ParallelBatchNode } from './batch-node';
export { Flow } from './flow';
export { BatchFlow, ParallelBatchFlow } from './batch-flow';
