/**
 * A ListObjectsV2 answer (ListBucketResult), or an S3 error answer, read with indexOf instead of an
 * XML parser: the few elements the server uses, entities decoded as XML
 * does. Anything it does not expect (CDATA, a missing end tag, a number or
 * date that does not parse) gives undefined, and the caller asks the SDK.
 */

interface ListedObject {
  key: string;
  size: number;
  /** As the store sent it, quotes included. */
  etag: string | undefined;
  lastModified: Date;
  storageClass: string | undefined;
}

export interface ListBucketResult {
  objects: ListedObject[];
  prefixes: string[];
  isTruncated: boolean;
  nextContinuationToken: string | undefined;
}

class Unexpected extends Error {}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** One character or entity reference, without its `&` and `;` (String.fromCodePoint throws on a bad number). */
function entity(name: string): string {
  const named = NAMED[name];
  if (named !== undefined) return named;
  if (/^#x[0-9a-fA-F]+$/.test(name)) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
  if (/^#[0-9]+$/.test(name)) return String.fromCodePoint(Number(name.slice(1)));
  throw new Unexpected(`unknown entity &${name};`);
}

/** Text content with its references replaced; a loop of indexOf, as every ETag holds two `&quot;`. */
function decode(raw: string): string {
  let at = raw.indexOf('&');
  if (at === -1) return raw;
  let text = '';
  let from = 0;
  while (at !== -1) {
    const end = raw.indexOf(';', at);
    if (end === -1) throw new Unexpected('an entity has no end');
    text += raw.slice(from, at) + entity(raw.slice(at + 1, end));
    from = end + 1;
    at = raw.indexOf('&', from);
  }
  return text + raw.slice(from);
}

/** The raw text of the first `<name>` element between `from` and `to`, or undefined when there is none. */
function element(xml: string, name: string, from: number, to: number): string | undefined {
  const open = xml.indexOf(`<${name}>`, from);
  if (open === -1 || open >= to) {
    const empty = xml.indexOf(`<${name}/>`, from);
    if (empty !== -1 && empty < to) return '';
    // With attributes (or a namespace prefix's spacing) it is an element this reader does not know: not "missing".
    const other = xml.indexOf(`<${name} `, from);
    if (other !== -1 && other < to) throw new Unexpected(`${name} has attributes`);
    return undefined;
  }
  const start = open + name.length + 2;
  const close = xml.indexOf(`</${name}>`, start);
  if (close === -1 || close > to) throw new Unexpected(`${name} has no end tag`);
  const raw = xml.slice(start, close);
  if (raw.includes('<')) throw new Unexpected(`${name} holds markup`);
  return raw;
}

/** Every `<name>…</name>` block of the document, as [start, end) offsets of its content. */
function* blocks(xml: string, name: string): Generator<[number, number]> {
  const open = `<${name}>`;
  const close = `</${name}>`;
  for (let at = xml.indexOf(open); at !== -1; at = xml.indexOf(open, at)) {
    const end = xml.indexOf(close, at + open.length);
    if (end === -1) throw new Unexpected(`${name} has no end tag`);
    yield [at + open.length, end];
    at = end + close.length;
  }
}

function listedObject(xml: string, from: number, to: number): ListedObject | undefined {
  const key = element(xml, 'Key', from, to);
  // The SDK's listing leaves such an entry without a Key, and the server skips it.
  if (key === undefined) return undefined;
  const sizeText = element(xml, 'Size', from, to);
  const size = sizeText === undefined ? 0 : Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new Unexpected('Size is not a whole number');
  const modified = element(xml, 'LastModified', from, to);
  const lastModified = new Date(modified === undefined ? 0 : modified);
  // Without Z or an offset, Date would read it as this machine's local time; the SDK refuses it.
  if (modified !== undefined && !/(?:Z|[+-]\d\d:?\d\d)$/.test(modified))
    throw new Unexpected('LastModified has no zone');
  if (Number.isNaN(lastModified.getTime())) throw new Unexpected('LastModified is not a date');
  const etag = element(xml, 'ETag', from, to);
  const storageClass = element(xml, 'StorageClass', from, to);
  return {
    key: decode(key),
    size,
    etag: etag === undefined ? undefined : decode(etag),
    lastModified,
    storageClass: storageClass === undefined ? undefined : decode(storageClass),
  };
}

export function parseListBucketResult(xml: string): ListBucketResult | undefined {
  if (!xml.includes('<ListBucketResult') || xml.includes('<![CDATA[')) return undefined;
  try {
    const objects: ListedObject[] = [];
    for (const [from, to] of blocks(xml, 'Contents')) {
      const listed = listedObject(xml, from, to);
      if (listed !== undefined) objects.push(listed);
    }
    const prefixes: string[] = [];
    for (const [from, to] of blocks(xml, 'CommonPrefixes')) {
      const prefix = element(xml, 'Prefix', from, to);
      if (prefix !== undefined) prefixes.push(decode(prefix));
    }
    const truncated = element(xml, 'IsTruncated', 0, xml.length);
    const token = element(xml, 'NextContinuationToken', 0, xml.length);
    return {
      objects,
      prefixes,
      isTruncated: truncated === 'true',
      nextContinuationToken: token === undefined ? undefined : decode(token),
    };
  } catch (e) {
    if (e instanceof Unexpected || e instanceof RangeError) return undefined;
    throw e;
  }
}

/** An S3 error answer's `<Error><Code>…</Code><Message>…</Message></Error>`; undefined without a Code. */
export function parseErrorAnswer(xml: string): { code: string; message: string } | undefined {
  if (!xml.includes('<Error>')) return undefined;
  try {
    const code = element(xml, 'Code', 0, xml.length);
    const message = element(xml, 'Message', 0, xml.length);
    return code ? { code: decode(code), message: message === undefined ? code : decode(message) } : undefined;
  } catch (e) {
    if (e instanceof Unexpected || e instanceof RangeError) return undefined;
    throw e;
  }
}
