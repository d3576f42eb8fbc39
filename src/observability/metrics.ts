import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreCallEvent } from '../s3/instrumentation.js';

export type { StoreCallEvent };

/** What the GraphQL layer reports after every executed operation. */
export interface GraphQLOperationEvent {
  /** The operation's name as the client sent it; null for an anonymous operation. */
  name: string | null | undefined;
  type: 'query' | 'mutation' | 'subscription' | 'unknown';
  outcome: 'ok' | 'error';
  seconds: number;
}

export interface MetricsOptions {
  /** Also expose Node's process metrics (CPU, memory, event loop lag). Default true. */
  processMetrics?: boolean;
  /** Metric name prefix. Default "s3graphql_". */
  prefix?: string;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Distinct GraphQL operation names kept as labels; later ones count as "other". */
const MAX_OPERATION_NAMES = 200;

/** Adds one to `gauge` now, and takes it off again on the first call of the function returned. */
function inFlight(gauge: Gauge): () => void {
  gauge.inc();
  let done = false;
  return () => {
    if (done) return;
    done = true;
    gauge.dec();
  };
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The server's Prometheus metrics, in a registry of their own (never the
 * global one), so several servers in one process (tests) do not collide.
 * Every label has a bounded set of values: routes are named by the server,
 * methods outside the standard set count as OTHER, and client-chosen GraphQL
 * operation names are capped.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  private readonly storeCalls: Counter<'operation' | 'outcome'>;
  private readonly storeDuration: Histogram<'operation' | 'outcome'>;
  private readonly bytesUp: Counter;
  private readonly bytesDown: Counter;
  private readonly inFlight: Gauge;
  private readonly downloadsInFlight: Gauge;
  private readonly operations: Counter<'name' | 'type' | 'outcome'>;
  private readonly operationDuration: Histogram<'name' | 'type' | 'outcome'>;
  private readonly operationNames = new Set<string>();
  private readonly rateRefusals: Counter<'route' | 'phase'>;
  private readonly rateShared: Gauge;
  private readonly drainingGauge: Gauge;

  constructor(options: MetricsOptions = {}) {
    const prefix = options.prefix ?? 's3graphql_';
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: `${prefix}http_requests_total`,
      help: 'HTTP requests answered, by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: 'Time from the start of an HTTP request until its response was sent.',
      labelNames: ['route', 'method', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.storeCalls = new Counter({
      name: `${prefix}store_calls_total`,
      help: 'Calls to the object store, by S3 operation and outcome.',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.storeDuration = new Histogram({
      name: `${prefix}store_call_duration_seconds`,
      help: 'Latency of calls to the object store, by S3 operation and outcome.',
      labelNames: ['operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.bytesUp = new Counter({
      name: `${prefix}upload_bytes_total`,
      help: 'Bytes of uploaded files received by the server.',
      registers,
    });
    this.bytesDown = new Counter({
      name: `${prefix}download_bytes_total`,
      help: 'Bytes of object content sent to clients on /objects.',
      registers,
    });
    this.inFlight = new Gauge({
      name: `${prefix}uploads_in_flight`,
      help: 'Multipart (file upload) requests being received right now.',
      registers,
    });
    this.downloadsInFlight = new Gauge({
      name: `${prefix}downloads_in_flight`,
      help: 'Object contents being sent on /objects right now.',
      registers,
    });
    this.operations = new Counter({
      name: `${prefix}graphql_operations_total`,
      help: 'GraphQL operations executed, by operation name, type and outcome.',
      labelNames: ['name', 'type', 'outcome'],
      registers,
    });
    this.operationDuration = new Histogram({
      name: `${prefix}graphql_operation_duration_seconds`,
      help: "Execution time of GraphQL operations (an upload's included), by operation name, type and outcome.",
      labelNames: ['name', 'type', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.rateRefusals = new Counter({
      name: `${prefix}rate_limit_refusals_total`,
      help: 'Requests refused by the rate limit (429 RATE_LIMITED), by route and phase (request: on arrival; cost: when the estimated store calls of a GraphQL request were charged).',
      labelNames: ['route', 'phase'],
      registers,
    });
    this.rateShared = new Gauge({
      name: `${prefix}rate_limit_shared`,
      help: 'With REDIS_URL: 1 while the rate limit is counted in Redis for every replica, 0 while Redis is out of reach and it is counted in this replica’s memory.',
      registers,
    });
    this.drainingGauge = new Gauge({
      name: `${prefix}draining`,
      help: '1 from SIGTERM or SIGINT until the process exits (no new connections; requests in flight finish), else 0.',
      registers,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix });
  }

  /** Content-Type of `exposition()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  /** One answered HTTP request; `route` is one of the server's route names. */
  httpRequest(route: string, method: string, status: number, seconds: number): void {
    const labels = { route, method: METHODS.has(method) ? method : 'OTHER', status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  /** The S3 client's `onCall` hook. */
  storeCall(event: StoreCallEvent): void {
    const labels = { operation: event.operation, outcome: event.outcome };
    this.storeCalls.inc(labels);
    this.storeDuration.observe(labels, event.seconds);
  }

  /** Counts bytes of uploaded file content as they arrive. */
  bytesUploaded(bytes: number): void {
    if (bytes > 0) this.bytesUp.inc(bytes);
  }

  /** Counts bytes of object content as they are sent. */
  bytesDownloaded(bytes: number): void {
    if (bytes > 0) this.bytesDown.inc(bytes);
  }

  /** Marks the start of an upload request; the returned function marks its end (calls after the first do nothing). */
  uploadStarted(): () => void {
    return inFlight(this.inFlight);
  }

  /** Marks the start of sending an object's content; the returned function marks its end (calls after the first do nothing). */
  downloadStarted(): () => void {
    return inFlight(this.downloadsInFlight);
  }

  /** A request refused by the rate limit. */
  rateLimitRefused(route: 'graphql' | 'objects', phase: 'request' | 'cost'): void {
    this.rateRefusals.inc({ route, phase });
  }

  /** Whether the rate limit is counted in Redis (true) or, Redis out of reach, in memory (false). */
  rateLimitShared(up: boolean): void {
    this.rateShared.set(up ? 1 : 0);
  }

  /** The server has started (true) draining. */
  draining(on: boolean): void {
    this.drainingGauge.set(on ? 1 : 0);
  }

  /** One executed GraphQL operation. */
  graphqlOperation(event: GraphQLOperationEvent): void {
    const labels = { name: this.operationLabel(event.name), type: event.type, outcome: event.outcome };
    this.operations.inc(labels);
    this.operationDuration.observe(labels, event.seconds);
  }

  private operationLabel(name: string | null | undefined): string {
    if (name === null || name === undefined || name === '') return 'anonymous';
    if (!NAME.test(name)) return 'other';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.operationNames.add(name);
    return name;
  }
}
