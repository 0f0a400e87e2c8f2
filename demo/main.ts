/**
 * `npm run demo` — a multi-node pipeline (summarise → classify → branch → report) over the
 * sample documents. This first version runs against an in-process fake model; it is upgraded to
 * the embedded provider simulator with throttled nodes as those land.
 */
import { Flow, Node, ParallelBatchNode } from '../src/index';
import { sampleDocuments } from '../cookbook/data/sample-texts';

interface Shared {
  docs: string[];
  summaries?: string[];
  labels?: ('complaint' | 'news')[];
  report?: string;
}

const fakeModel = async (prompt: string): Promise<string> => {
  await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
  return prompt.split(' ').slice(0, 8).join(' ');
};

let done = 0;
const total = 2 * 60;
const tick = () => {
  done++;
  if (done % 20 === 0 || done === total) console.log(`  progress ${done}/${total}`);
};

class Summarise extends ParallelBatchNode<Shared, object, string, string> {
  override async prep(shared: Shared) { return shared.docs; }
  override async exec(doc: string) { const s = await fakeModel(doc); tick(); return s; }
  override async post(shared: Shared, _docs: string[], summaries: string[]) { shared.summaries = summaries; return 'default'; }
}

class Classify extends ParallelBatchNode<Shared, object, string, 'complaint' | 'news'> {
  override async prep(shared: Shared) { return shared.summaries ?? []; }
  override async exec(summary: string) {
    await fakeModel(summary); tick();
    return /complain|froze|stranded|outage|damaged/i.test(summary) ? 'complaint' as const : 'news' as const;
  }
  override async post(shared: Shared, _s: string[], labels: ('complaint' | 'news')[]) {
    shared.labels = labels;
    return labels.includes('complaint') ? 'escalate' : 'default';
  }
}

class Report extends Node<Shared> {
  constructor(private readonly heading: string) { super(); }
  override async post(shared: Shared) {
    const complaints = shared.labels?.filter((l) => l === 'complaint').length ?? 0;
    shared.report = `${this.heading}: ${complaints} complaints among ${shared.docs.length} documents`;
    return undefined;
  }
}

const summarise = new Summarise();
const classify = summarise.next(new Classify());
classify.on('escalate', new Report('ESCALATE'));
classify.on('default', new Report('All quiet'));

const shared: Shared = { docs: sampleDocuments(60) };
const started = Date.now();
console.log('throttleflow demo: summarise → classify → report over 60 documents');
await new Flow<Shared>(summarise).run(shared);
console.log(`${shared.report} (${Date.now() - started} ms)`);
