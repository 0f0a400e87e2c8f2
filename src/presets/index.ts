export { Presets, type NodePreset } from './presets';
export { FlowPresets, type FlowPreset } from './flow-presets';
export type { PresetLookup, DeepReadonly } from './preset-table';
