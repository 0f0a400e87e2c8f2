import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isRecord } from '../util/is-record';
import { isInvalidOptionError } from '../validation/options';
import { type ProviderSimulatorOptions, resolveSimulatorOptions } from './provider-simulator-options';
import type { ProviderSimulator } from './provider-simulator-types';
import {
  clientErrorReply,
  faultReply,
  rateLimitedReply,
  rateLimitHeaders,
  type SimulatedReply,
  type SimulatorDialect,
  successReply,
} from './simulator-responses';
import { SimulatorState } from './simulator-state';
import { formatStreamEvent, streamEvents, wantsStream, wantsStreamUsage } from './simulator-stream';
import { simulatorTokenCost } from './simulator-token-cost';

/** Options of {@link startProviderSimulator}: the simulator's options plus where to listen. */
export interface StartProviderSimulatorOptions extends ProviderSimulatorOptions {
  /**
   * TCP port; 0 picks a free one.
   * @default 0
   */
  port?: number;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;
const DEFAULT_COMPLETION_TOKENS = 100;

/**
 * Starts a simulated LLM provider: a real HTTP server on 127.0.0.1 that answers
 * `POST /v1/chat/completions` like OpenAI and `POST /v1/messages` like Anthropic — with `usage`
 * and the real rate-limit headers, streamed as server-sent events when the body says
 * `"stream": true` (OpenAI's final usage chunk with `stream_options.include_usage`) — while enforcing requests and tokens per window, with
 * latency, jitter and injected faults. `GET /stats`, `GET /log`, `POST /reset` and `POST /options`
 * (JSON) are its control endpoints.
 *
 * @example
 * const sim = await startProviderSimulator({ requestsPerWindow: 100, windowMs: 10_000 });
 * const openai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sim', maxRetries: 0 });
 * // … run the pipeline …
 * expect(sim.stats().rejected).toBe(0);
 * await sim.close();
 */
export async function startProviderSimulator(
  options: StartProviderSimulatorOptions = {},
): Promise<ProviderSimulator> {
  const { port: requestedPort = 0, ...simulatorOptions } = options;
  const state = new SimulatorState(resolveSimulatorOptions(simulatorOptions));
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let requestNumber = 0;

  const server = createServer((req, res) => {
    readBody(req)
      .then((raw) => route(req, res, raw))
      .catch(() => {
        if (!res.headersSent) send(res, clientErrorReply(400, 'Could not read the request body.'));
      });
  });
  // Keep-alive sockets would hold close() open; the SDKs reconnect as needed.
  server.keepAliveTimeout = 5_000;

  function route(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (path === '/v1/chat/completions' || path === '/v1/messages') {
      if (method !== 'POST') return send(res, clientErrorReply(405, `Use POST for ${path}.`));
      return complete(res, path === '/v1/messages' ? 'anthropic' : 'openai', raw);
    }
    if (path === '/stats' && method === 'GET') return sendJson(res, 200, state.stats());
    if (path === '/log' && method === 'GET') return sendJson(res, 200, state.log());
    if (path === '/reset' && method === 'POST') {
      state.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/options') {
      if (method === 'GET') return sendJson(res, 200, state.options);
      if (method === 'POST') {
        try {
          return sendJson(res, 200, state.setOptions(JSON.parse(raw || '{}')));
        } catch (error) {
          const message =
            isInvalidOptionError(error) || error instanceof SyntaxError ? error.message : String(error);
          return send(res, clientErrorReply(400, message));
        }
      }
    }
    send(res, clientErrorReply(404, `Unknown route ${method} ${path}.`));
  }

  function complete(res: ServerResponse, dialect: SimulatorDialect, raw: string): void {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, clientErrorReply(400, 'The request body is not valid JSON.'));
    }
    const number = ++requestNumber;
    const { fault, latencyMs } = state.drawFaultAndLatency();
    if (fault === 'p529') {
      state.recordFault('p529');
      return send(res, faultReply(dialect, 529, number));
    }
    if (fault === 'p500' || fault === 'reset') {
      // Faults are decided before admission, so they never spend capacity.
      state.recordFault(fault);
      return later(latencyMs, () =>
        fault === 'reset' ? res.socket?.destroy() : send(res, faultReply(dialect, 500, number)),
      );
    }

    const cost = simulatorTokenCost(body);
    const admission = state.admit(cost.totalTokens);
    const limitHeaders = rateLimitHeaders(dialect, admission.budgets, Date.now());
    if (!admission.ok) {
      return send(
        res,
        rateLimitedReply(dialect, admission.scope, admission.retryAfterMs, limitHeaders, number),
      );
    }
    const request = describeRequest(body, dialect, number, cost, state.options.completionTokens);
    res.on('close', () => state.finish());
    if (wantsStream(body)) return stream(res, request, limitHeaders, latencyMs, wantsStreamUsage(body));
    const reply = successReply(request, limitHeaders, latencyMs, state.options.processingMsHeader);
    later(latencyMs, () => send(res, reply));
  }

  /**
   * A streamed 200: headers (with the same rate-limit headers) at once, the events spread evenly
   * over the latency, the last one at `latencyMs`; the request stays in flight until the body ends.
   */
  function stream(
    res: ServerResponse,
    request: Parameters<typeof successReply>[0],
    limitHeaders: Record<string, string>,
    latencyMs: number,
    includeUsage: boolean,
  ): void {
    // Headers leave before any output is produced, so the provider reports no processing time yet.
    const { headers } = successReply(request, limitHeaders, 0, state.options.processingMsHeader);
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8' });
    const events = streamEvents(request, includeUsage);
    events.forEach((event, index) => {
      const atMs = events.length > 1 ? (latencyMs * index) / (events.length - 1) : latencyMs;
      later(atMs, () => {
        if (res.destroyed) return;
        res.write(formatStreamEvent(event));
        if (index === events.length - 1) res.end();
      });
    });
  }

  function later(delayMs: number, fn: () => void): void {
    if (delayMs <= 0) return fn();
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, delayMs);
    timers.add(timer);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(requestedPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats: () => state.stats(),
    log: () => state.log(),
    reset: () => state.reset(),
    setOptions: (update) => {
      state.setOptions(update);
    },
    options: () => state.options,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function describeRequest(
  body: unknown,
  dialect: SimulatorDialect,
  requestNumber: number,
  cost: ReturnType<typeof simulatorTokenCost>,
  completionTokensOption: number | undefined,
): Parameters<typeof successReply>[0] {
  const request = isRecord(body) ? body : {};
  const messages = Array.isArray(request.messages) ? request.messages : [];
  const last = messages[messages.length - 1] as { content?: unknown } | undefined;
  const n = typeof request.n === 'number' && Number.isInteger(request.n) && request.n > 0 ? request.n : 1;
  const perChoiceMax = n > 0 && cost.maxOutputTokens > 0 ? cost.maxOutputTokens / n : undefined;
  const wanted = completionTokensOption ?? DEFAULT_COMPLETION_TOKENS;
  return {
    dialect,
    requestNumber,
    model: typeof request.model === 'string' ? request.model : 'simulated-model',
    lastText: contentText(last?.content),
    n,
    cost,
    completionTokens: perChoiceMax === undefined ? wanted : Math.min(wanted, perChoiceMax),
  };
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : '')).join('');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
    // A client that hangs up mid-body gets no answer; settle so nothing waits forever.
    req.on('close', () => {
      if (!req.complete) reject(new Error('client closed the request'));
    });
  });
}

function send(res: ServerResponse, reply: SimulatedReply): void {
  if (res.destroyed || res.headersSent) return;
  sendJson(res, reply.status, reply.body, reply.headers);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
