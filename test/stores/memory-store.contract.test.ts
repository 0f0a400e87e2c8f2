import { MemoryStore } from '../../src/stores/memory-store';
import { describeStoreContract } from './store.contract';

describeStoreContract('MemoryStore', () => ({ store: new MemoryStore() }));
