export { Presets, type NodePreset } from './presets';
export { FlowPresets, type FlowPreset } from './flow-presets';
export type { PresetLookup } from './preset-table';
