/**
 * S3's XML documents, in and out, with fast-xml-parser.
 *
 * Parsing keeps every value a string exactly as sent (no number coercion, no
 * trimming: keys may be "0012" or end in spaces), accepts the five XML
 * entities and numeric character references (the SDK writes "\n" in a key as
 * "&#x0A;"), and refuses DOCTYPEs, so there is no entity expansion. Output
 * escapes markup characters and "\r" (which an XML parser would otherwise
 * normalise away).
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { CORS_METHODS, hasOneWildcardAtMost, MAX_CORS_RULES, MAX_DELETE_KEYS } from '../../core/s3-rules.js';
import { errors } from '../errors.js';
import type { CorsRule } from '../storage/records.js';

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

const ARRAY_TAGS = new Set([
  'Object',
  'Part',
  'CORSRule',
  'AllowedOrigin',
  'AllowedMethod',
  'AllowedHeader',
  'ExposeHeader',
]);

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => ARRAY_TAGS.has(name),
});

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\r': '&#13;',
};

function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]/g, (c) => ESCAPES[c]!);
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  format: false,
  suppressEmptyNode: false,
  processEntities: false,
  tagValueProcessor: (_name, value) => escapeXml(String(value)),
  attributeValueProcessor: (_name, value) => escapeXml(String(value)),
});

/** A document body: element name to text, nested element, or repeated elements; undefined leaves it out. */
type XmlValue = string | number | boolean | undefined | XmlElement | XmlElement[] | string[];
export interface XmlElement {
  [name: string]: XmlValue;
}

/** An S3 response document: declaration, root element in S3's namespace. */
export function renderXml(root: string, body: XmlElement, namespaced = true): string {
  const element = namespaced ? { '@_xmlns': S3_NAMESPACE, ...body } : body;
  return DECLARATION + builder.build({ [root]: element });
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&([^;&]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw errors.malformedXml();
    if (name in NAMED) return NAMED[name]!;
    const numeric = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (!numeric) throw errors.malformedXml();
    const code = numeric[1] !== undefined ? Number.parseInt(numeric[1], 16) : Number(numeric[2]);
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw errors.malformedXml();
    return String.fromCodePoint(code);
  });
}

type Node = Record<string, unknown>;

/** Parses a request document; anything that is not well-formed XML with `root` at the top is MalformedXML. */
function parseXml(body: Buffer, root: string): Node {
  const text = body.toString('utf8');
  if (/<!DOCTYPE/i.test(text) || XMLValidator.validate(text) !== true) throw errors.malformedXml();
  const doc = parser.parse(text) as Node;
  const top = doc[root];
  if (top === '') return {};
  if (!isNode(top)) throw errors.malformedXml();
  return top;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The text of a leaf element, or undefined when absent. */
function text(node: Node, name: string): string | undefined {
  const value = node[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw errors.malformedXml();
  return decodeEntities(value);
}

function texts(node: Node, name: string): string[] {
  const value = node[name];
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw errors.malformedXml();
  return (value as string[]).map(decodeEntities);
}

function children(node: Node, name: string): Node[] {
  const value = node[name];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw errors.malformedXml();
  return value.map((v): Node => {
    if (v === '') return {};
    if (!isNode(v)) throw errors.malformedXml();
    return v;
  });
}

/* -------------------------------------------------------------- requests -- */

export interface DeleteRequest {
  quiet: boolean;
  objects: Array<{ key: string; versionId?: string }>;
}

/** DeleteObjects: `<Delete><Quiet/><Object><Key/><VersionId/></Object>...</Delete>`, 1 to 1000 objects. */
export function parseDelete(body: Buffer): DeleteRequest {
  const root = parseXml(body, 'Delete');
  const objects = children(root, 'Object').map((o) => {
    const key = text(o, 'Key');
    if (key === undefined) throw errors.malformedXml();
    const versionId = text(o, 'VersionId');
    return versionId === undefined || versionId === '' ? { key } : { key, versionId };
  });
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw errors.malformedXml();
  const quiet = text(root, 'Quiet');
  if (quiet !== undefined && !/^\s*(true|false)\s*$/i.test(quiet)) throw errors.malformedXml();
  return { quiet: quiet !== undefined && /true/i.test(quiet), objects };
}

/** CompleteMultipartUpload: the parts in the order given; checksum elements are accepted and ignored. */
export function parseCompleteMultipartUpload(body: Buffer): Array<{ partNumber: number; etag: string }> {
  const root = parseXml(body, 'CompleteMultipartUpload');
  return children(root, 'Part').map((p) => {
    const number = text(p, 'PartNumber')?.trim();
    const etag = text(p, 'ETag');
    if (number === undefined || !/^\d{1,5}$/.test(number) || etag === undefined) throw errors.malformedXml();
    return { partNumber: Number(number), etag: etag.trim() };
  });
}

/** CreateBucket's optional body. */
export function parseCreateBucketConfiguration(body: Buffer): { locationConstraint?: string } {
  if (body.toString('utf8').trim() === '') return {};
  const root = parseXml(body, 'CreateBucketConfiguration');
  const location = text(root, 'LocationConstraint')?.trim();
  return location ? { locationConstraint: location } : {};
}

/** PutBucketCors, validated as S3 validates it. */
export function parseCorsConfiguration(body: Buffer): CorsRule[] {
  const root = parseXml(body, 'CORSConfiguration');
  const rules = children(root, 'CORSRule').map((r): CorsRule => {
    const allowedOrigins = texts(r, 'AllowedOrigin').map((o) => o.trim());
    const allowedMethods = texts(r, 'AllowedMethod').map((m) => m.trim());
    const allowedHeaders = texts(r, 'AllowedHeader').map((h) => h.trim());
    const exposeHeaders = texts(r, 'ExposeHeader').map((h) => h.trim());
    if (allowedOrigins.length === 0 || allowedMethods.length === 0) throw errors.malformedXml();
    for (const method of allowedMethods) {
      if (!(CORS_METHODS as readonly string[]).includes(method)) {
        throw errors.invalidRequest(`Found unsupported HTTP method in CORS config. Unsupported method is ${method}`);
      }
    }
    for (const origin of allowedOrigins) {
      if (!hasOneWildcardAtMost(origin)) {
        throw errors.invalidRequest(`AllowedOrigin "${origin}" can not have more than one wildcard.`);
      }
    }
    for (const header of allowedHeaders) {
      if (!hasOneWildcardAtMost(header)) {
        throw errors.invalidRequest(`AllowedHeader "${header}" can not have more than one wildcard.`);
      }
    }
    const rule: CorsRule = { allowedOrigins, allowedMethods, allowedHeaders, exposeHeaders };
    const id = text(r, 'ID');
    if (id !== undefined) rule.id = id;
    const maxAge = text(r, 'MaxAgeSeconds')?.trim();
    if (maxAge !== undefined) {
      if (!/^\d{1,9}$/.test(maxAge)) throw errors.malformedXml();
      rule.maxAgeSeconds = Number(maxAge);
    }
    return rule;
  });
  if (rules.length === 0 || rules.length > MAX_CORS_RULES) throw errors.malformedXml();
  return rules;
}

/** GetBucketCors's document. */
export function corsConfigurationXml(rules: CorsRule[]): string {
  return renderXml('CORSConfiguration', {
    CORSRule: rules.map((r) => ({
      ID: r.id,
      AllowedHeader: r.allowedHeaders,
      AllowedMethod: r.allowedMethods,
      AllowedOrigin: r.allowedOrigins,
      ExposeHeader: r.exposeHeaders,
      MaxAgeSeconds: r.maxAgeSeconds,
    })),
  });
}

/* ------------------------------------------------------------- responses -- */

/** The error document (no namespace, as S3 sends it). */
export function errorXml(
  code: string,
  message: string,
  resource: string,
  requestId: string,
  details: Record<string, string>,
): string {
  return renderXml(
    'Error',
    { Code: code, Message: message, ...details, Resource: resource, RequestId: requestId },
    false,
  );
}

/**
 * encoding-type=url: what S3 returns for keys that XML cannot carry. Every
 * byte but unreserved characters and "/" is percent-encoded, so both
 * decodeURIComponent and unquote_plus give the key back.
 */
export function urlEncodeKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
