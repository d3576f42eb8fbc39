/**
 * The checksums a request body may carry (x-amz-checksum-* as a header or a
 * trailer, Content-MD5), computed as the body streams. The CRCs are the AWS
 * SDK's own implementations (@aws-sdk/checksums, the code the SDK computes
 * them with on the client side); the hashes are node:crypto's.
 */
import { createHash, type Hash } from 'node:crypto';
import { Crc32, Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import { S3Error } from '../errors.js';

/** What a body's checksum needs: the SDK's Checksum interface, less reset. */
export interface Checksum {
  update(data: Uint8Array): void;
  digest(): Promise<Uint8Array>;
}

/** A running hash from node:crypto, behind the same interface. */
class NodeHash implements Checksum {
  private readonly hash: Hash;

  constructor(algorithm: string) {
    this.hash = createHash(algorithm);
  }

  update(data: Uint8Array): void {
    this.hash.update(data);
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

interface ChecksumKind {
  /** Name S3 uses in messages, e.g. CRC32. */
  label: string;
  bytes: number;
  create(): Checksum;
}

/** The checksums this store verifies, by the header or trailer that carries them. */
const CHECKSUMS: Record<string, ChecksumKind> = {
  'x-amz-checksum-crc32': { label: 'CRC32', bytes: 4, create: () => new Crc32() },
  'x-amz-checksum-crc32c': { label: 'CRC32C', bytes: 4, create: () => new Crc32c() },
  'x-amz-checksum-crc64nvme': { label: 'CRC64NVME', bytes: 8, create: () => new Crc64Nvme() },
  'x-amz-checksum-sha1': { label: 'SHA1', bytes: 20, create: () => new NodeHash('sha1') },
  'x-amz-checksum-sha256': { label: 'SHA256', bytes: 32, create: () => new NodeHash('sha256') },
  'x-amz-checksum-sha512': { label: 'SHA512', bytes: 64, create: () => new NodeHash('sha512') },
  'x-amz-checksum-md5': { label: 'MD5', bytes: 16, create: () => new NodeHash('md5') },
  'content-md5': { label: 'Content-MD5', bytes: 16, create: () => new NodeHash('md5') },
};

/** The checksums S3 keeps with an object and returns (GetObject with x-amz-checksum-mode). */
const STORED_CHECKSUM = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Whether `name` (lower case) is a checksum this module computes. */
export function isVerifiableChecksum(name: string): boolean {
  return Object.hasOwn(CHECKSUMS, name);
}

/** Whether `name` (lower case) is a checksum kept with the object and returned with it. */
export function isStoredChecksum(name: string): boolean {
  return STORED_CHECKSUM.test(name);
}

/** A fresh running checksum of the kind `name` carries; `name` must be verifiable. */
export function createChecksum(name: string): Checksum {
  return CHECKSUMS[name]!.create();
}

function invalidChecksum(name: string, where: 'header' | 'trailing header'): S3Error {
  if (name === 'content-md5') return new S3Error('InvalidDigest', 'The Content-MD5 you specified is not valid.');
  return new S3Error('InvalidRequest', `Value for ${name} ${where} is invalid.`);
}

export function badDigest(name: string): S3Error {
  if (name === 'content-md5')
    return new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  const label = CHECKSUMS[name]?.label ?? name;
  return new S3Error('BadDigest', `The ${label} you specified did not match the calculated checksum.`);
}

/** A checksum value, decoded; throws S3Error when it is not base64 of the kind's length. */
function decode(name: string, value: string, where: 'header' | 'trailing header'): Buffer {
  const kind = CHECKSUMS[name];
  if (!kind) throw new TypeError(`not a verifiable checksum: ${name}`);
  const expected = Buffer.from(value, 'base64');
  if (!BASE64.test(value) || expected.length !== kind.bytes) throw invalidChecksum(name, where);
  return expected;
}

/** A checksum the client declared in a request header, decoded. Throws S3Error when malformed. */
export function parseHeaderChecksum(name: string, value: string): { name: string; expected: Buffer } {
  return { name, expected: decode(name, value.trim(), 'header') };
}

/** A checksum the client sent as a trailing header, decoded. Throws S3Error when malformed. */
export function parseTrailerChecksum(name: string, value: string): Buffer {
  return decode(name, value, 'trailing header');
}
