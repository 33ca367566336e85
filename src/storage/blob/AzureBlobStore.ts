// The Azure Blob Storage blob store: the caller's own container, for ACS recordings with
// `externalStorage: { recordingStorageKind: 'azureBlobStorage', recordingDestinationContainerUrl }`.
//
// Either a container URL carrying a SAS token (https://acct.blob.core.windows.net/c?sv=…&sig=…;
// needs read, add, create, write, delete and list permissions) or a connection string and a
// container name (Azurite's development account, a storage account key). Keys are blob names.
// Uploads are block blobs: a Uint8Array goes in one request up to 256 MiB (blocks beyond), a
// stream is staged in blocks of `blockSizeBytes` with `uploadConcurrency` in flight (memory stays
// near their product) and committed at the end, so a failed stream never replaces the old blob.
// Every failure becomes a BlobStoreError that names the container (never the SAS token) and,
// where the service answered, the HTTP status and Azure error code.
import { Readable } from 'node:stream';
import { AnonymousCredential, ContainerClient } from '@azure/storage-blob';
import type { BlobDownloadResponseParsed, StoragePipelineOptions } from '@azure/storage-blob';
import {
  BlobStoreError,
  assertValidKey,
  assertValidPrefix,
  assertValidPutOptions,
  assertValidRange,
  resolveRange,
} from './BlobStore.ts';
import type { BlobInfo, BlobPutOptions, BlobPutResult, BlobRange, BlobReadResult, BlobStore } from './BlobStore.ts';

export interface AzureBlobStoreTuning {
  /** Block size for streamed uploads. Default 4 MiB. */
  blockSizeBytes?: number;
  /** Blocks uploaded in parallel for a stream. Default 4. */
  uploadConcurrency?: number;
  /** Tries per request, network failures and 5xx retried with backoff. Default 4. */
  maxTries?: number;
  /** Time limit of one try, ms. Default: the SDK's (none for uploads of any size). */
  tryTimeoutMs?: number;
  /** Allow a plain-http container URL off loopback (the SAS token would cross the network in clear). Default false. */
  allowInsecureHttp?: boolean;
}

export type AzureBlobStoreOptions = ({ containerUrl: string } | { connectionString: string; containerName: string }) & AzureBlobStoreTuning;

const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The URL without its query (the SAS token) or credentials, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

interface RestErrorLike {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

/** Azure quotes etags in headers but not in list results: always the HTTP form. */
function quoted(etag: string | undefined): string {
  if (!etag) throw new BlobStoreError('Storage', 'Azure Blob Storage answered without an etag');
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

function errorCodeOf(e: RestErrorLike): string | undefined {
  return e.details?.errorCode ?? e.code;
}

export class AzureBlobStore implements BlobStore {
  readonly kind = 'azureBlob';
  readonly container: ContainerClient;
  /** The container's URL without the SAS token. */
  readonly url: string;
  private readonly blockSize: number;
  private readonly concurrency: number;

  constructor(options: AzureBlobStoreOptions) {
    const pipeline: StoragePipelineOptions = {
      retryOptions: {
        maxTries: options.maxTries ?? 4,
        ...(options.tryTimeoutMs ? { tryTimeoutInMs: options.tryTimeoutMs } : {}),
        retryDelayInMs: 500,
        maxRetryDelayInMs: 10_000,
      },
      userAgentOptions: { userAgentPrefix: 'telegraph' },
    };
    this.blockSize = options.blockSizeBytes ?? 4 * 1024 * 1024;
    this.concurrency = options.uploadConcurrency ?? 4;
    if (!Number.isSafeInteger(this.blockSize) || this.blockSize < 64 * 1024 || this.blockSize > 4000 * 1024 * 1024) {
      throw new BlobStoreError('InvalidArgument', `blockSizeBytes must be an integer from 64 KiB to 4000 MiB, not ${options.blockSizeBytes}`);
    }
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1 || this.concurrency > 64) {
      throw new BlobStoreError('InvalidArgument', `uploadConcurrency must be an integer from 1 to 64, not ${options.uploadConcurrency}`);
    }

    if ('containerUrl' in options) {
      let u: URL;
      try {
        u = new URL(options.containerUrl);
      } catch {
        throw new BlobStoreError('InvalidArgument', 'the Azure container URL is not a valid absolute URL');
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') {
        throw new BlobStoreError('InvalidArgument', `the Azure container URL ${redact(options.containerUrl)} must be https`);
      }
      if (u.protocol === 'http:' && !LOOPBACK.has(u.hostname) && !options.allowInsecureHttp) {
        throw new BlobStoreError(
          'InvalidArgument',
          `the Azure container URL ${redact(options.containerUrl)} is plain http off loopback; use https (or allowInsecureHttp for a trusted network)`,
        );
      }
      if (u.username || u.password) throw new BlobStoreError('InvalidArgument', 'the Azure container URL must not carry a user name or password');
      this.container = new ContainerClient(u.toString(), new AnonymousCredential(), pipeline);
    } else {
      if (!CONTAINER_NAME.test(options.containerName)) {
        throw new BlobStoreError(
          'InvalidArgument',
          `container name ${JSON.stringify(options.containerName)}: 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit`,
        );
      }
      try {
        this.container = new ContainerClient(options.connectionString, options.containerName, pipeline);
      } catch (err) {
        // The SDK's message may quote the connection string: never repeat it.
        throw new BlobStoreError('InvalidArgument', 'the Azure Storage connection string is not valid (AccountName, AccountKey and BlobEndpoint or EndpointSuffix)', { cause: err });
      }
    }
    if (!this.container.containerName) throw new BlobStoreError('InvalidArgument', `the Azure container URL ${redact(this.container.url)} names no container`);
    this.url = redact(this.container.url);
  }

  /** Creates the container if it does not exist (development accounts; a SAS URL usually cannot). */
  async ensureContainer(): Promise<void> {
    try {
      await this.container.createIfNotExists();
    } catch (err) {
      throw this.fail('create the container', null, err);
    }
  }

  /** Turns an SDK failure into a BlobStoreError with a message that says what to fix. */
  private fail(action: string, key: string | null, err: unknown): BlobStoreError {
    if (err instanceof BlobStoreError) return err;
    const e = (err ?? {}) as RestErrorLike;
    const what = key === null ? `${action} (container ${this.url})` : `${action} ${key} (container ${this.url})`;
    const status = e.statusCode;
    const code = errorCodeOf(e);
    const detail = String(e.message ?? err)
      .split('\n')[0]!
      .replace(/sig=[^&\s"]+/gi, 'sig=REDACTED')
      .slice(0, 300);
    if (e.name === 'AbortError') return new BlobStoreError('Network', `Azure Blob Storage: ${what} was aborted or timed out: ${detail}`, { cause: err });
    if (status === undefined) {
      return new BlobStoreError('Network', `Azure Blob Storage: cannot ${what}: no answer from ${new URL(this.container.url).host} (${code ?? 'network error'}: ${detail})`, { cause: err });
    }
    if (status === 404 && code === 'ContainerNotFound') {
      return new BlobStoreError('ContainerNotFound', `Azure Blob Storage: cannot ${what}: the container does not exist (404 ContainerNotFound); create it or fix the container URL`, {
        status,
        cause: err,
      });
    }
    if (status === 401 || status === 403) {
      return new BlobStoreError(
        'AuthenticationFailed',
        `Azure Blob Storage refused to ${what}: ${status} ${code ?? ''}; check the SAS token (signature, start and expiry, permissions racwdl) or the account key`.replace('  ', ' '),
        { status, cause: err },
      );
    }
    return new BlobStoreError('Storage', `Azure Blob Storage: cannot ${what}: ${status} ${code ?? ''} ${detail}`.trim(), { status, cause: err });
  }

  async put(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: BlobPutOptions): Promise<BlobPutResult> {
    assertValidKey(key);
    assertValidPutOptions(options);
    const blob = this.container.getBlockBlobClient(key);
    const common = { blobHTTPHeaders: { blobContentType: options.contentType }, metadata: { ...(options.metadata ?? {}) } };
    if (data instanceof Uint8Array) {
      try {
        const res = await blob.uploadData(data, { ...common, blockSize: this.blockSize, concurrency: this.concurrency });
        return { size: data.byteLength, etag: quoted(res.etag) };
      } catch (err) {
        throw this.fail('upload', key, err);
      }
    }
    let size = 0;
    // A failure of the caller's stream is rethrown as it is, not dressed as a storage error.
    let sourceFailed = false;
    let sourceError: unknown;
    async function* counted(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of data as AsyncIterable<Uint8Array>) {
          if (!(chunk instanceof Uint8Array)) throw new BlobStoreError('InvalidArgument', `put ${key}: the stream yielded a ${typeof chunk}, not a Uint8Array`);
          size += chunk.byteLength;
          yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        }
      } catch (err) {
        sourceFailed = true;
        sourceError = err;
        throw err;
      }
    }
    try {
      const res = await blob.uploadStream(Readable.from(counted(), { objectMode: false }), this.blockSize, this.concurrency, common);
      return { size, etag: quoted(res.etag) };
    } catch (err) {
      if (sourceFailed) throw sourceError;
      throw this.fail('upload', key, err);
    }
  }

  async get(key: string, range?: BlobRange): Promise<BlobReadResult | null> {
    assertValidKey(key);
    assertValidRange(range);
    const blob = this.container.getBlobClient(key);
    let res: BlobDownloadResponseParsed;
    try {
      // The SDK sends no Range for offset 0 with no count: the whole blob, then checked below.
      const count = range?.end === undefined ? undefined : range.end - range.start + 1;
      res = await blob.download(range?.start ?? 0, count, { maxRetryRequests: 3 });
    } catch (err) {
      const e = err as RestErrorLike;
      if (e.statusCode === 404 && errorCodeOf(e) === 'BlobNotFound') return null;
      if (e.statusCode === 416 && range) {
        const info = await this.head(key);
        if (!info) return null;
        resolveRange(key, range, info.size); // throws RangeNotSatisfiable with the size
      }
      throw this.fail('download', key, err);
    }
    const stream = res.readableStreamBody as Readable;
    const length = res.contentLength ?? 0;
    const total = res.contentRange ? Number(/\/(\d+)$/.exec(res.contentRange)?.[1] ?? NaN) : length;
    try {
      if (!Number.isSafeInteger(total)) throw new BlobStoreError('Storage', `Azure Blob Storage: download ${key}: unexpected Content-Range ${res.contentRange}`);
      const served = range ? resolveRange(key, range, total) : null;
      return {
        stream,
        size: length,
        totalSize: total,
        range: served,
        contentType: res.contentType ?? 'application/octet-stream',
        etag: quoted(res.etag),
        lastModified: res.lastModified ?? new Date(0),
        metadata: { ...(res.metadata ?? {}) },
      };
    } catch (err) {
      stream.destroy();
      throw err;
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    assertValidKey(key);
    try {
      const p = await this.container.getBlobClient(key).getProperties();
      return {
        key,
        size: p.contentLength ?? 0,
        contentType: p.contentType ?? 'application/octet-stream',
        etag: quoted(p.etag),
        lastModified: p.lastModified ?? new Date(0),
        metadata: { ...(p.metadata ?? {}) },
      };
    } catch (err) {
      const e = err as RestErrorLike;
      if (e.statusCode === 404 && errorCodeOf(e) !== 'ContainerNotFound') return null;
      throw this.fail('read the properties of', key, err);
    }
  }

  async delete(key: string): Promise<boolean> {
    assertValidKey(key);
    try {
      const res = await this.container.getBlobClient(key).deleteIfExists({ deleteSnapshots: 'include' });
      return res.succeeded;
    } catch (err) {
      throw this.fail('delete', key, err);
    }
  }

  /** Blobs whose names are not valid keys (put there by something else) are left out. */
  async list(prefix: string): Promise<BlobInfo[]> {
    assertValidPrefix(prefix);
    const out: BlobInfo[] = [];
    try {
      for await (const item of this.container.listBlobsFlat({ prefix, includeMetadata: true })) {
        try {
          assertValidKey(item.name);
        } catch {
          continue;
        }
        out.push({
          key: item.name,
          size: item.properties.contentLength ?? 0,
          contentType: item.properties.contentType ?? 'application/octet-stream',
          etag: quoted(item.properties.etag),
          lastModified: item.properties.lastModified,
          metadata: { ...(item.metadata ?? {}) },
        });
      }
    } catch (err) {
      throw this.fail('list', prefix === '' ? '(all)' : `prefix ${prefix}`, err);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
