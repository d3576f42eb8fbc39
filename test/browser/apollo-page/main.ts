/**
 * A frontend on another origin than the API, set up as the README's "Apollo
 * Client on another origin" says: Apollo Client with apollo-upload-client's
 * link, the CSRF header and the API key in Authorization. The browser test
 * (../cross-origin.test.ts) bundles it with Vite, serves it from its own
 * loopback port and calls `window.page` to act as the page would.
 */
import { ApolloClient, gql, InMemoryCache } from '@apollo/client';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';

/** What an action ended in: its value, or the error the page saw. */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

async function attempt<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

function client(api: string, token: string) {
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: new UploadHttpLink({
      uri: `${api}/graphql`,
      // apollo-require-preflight: the CSRF check refuses multipart requests without it (or x-graphql-csrf).
      headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${token}` },
    }),
  });
}

const bytesOf = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

const BUCKETS = gql`
  query Buckets {
    buckets {
      name
    }
  }
`;
const CREATE_BUCKET = gql`
  mutation CreateBucket($name: String!) {
    createBucket(name: $name) {
      name
    }
  }
`;
const UPLOAD = gql`
  mutation Upload($bucket: String!, $key: String!, $file: Upload!) {
    uploadObject(bucket: $bucket, key: $key, file: $file) {
      key
      size
      etag
    }
  }
`;
const PRESIGN_PUT = gql`
  mutation PresignPut($bucket: String!, $key: String!, $contentType: String!) {
    presign(bucket: $bucket, key: $key, method: PUT, contentType: $contentType, expiresIn: 900) {
      url
      headers {
        key
        value
      }
    }
  }
`;

interface Presigned {
  presign: { url: string; headers: { key: string; value: string }[] };
}

const page = {
  /** The names of the buckets the key sees. */
  buckets: (api: string, token: string) =>
    attempt(async () => {
      const { data } = await client(api, token).query<{ buckets: { name: string }[] }>({ query: BUCKETS });
      return data?.buckets.map((b) => b.name) ?? [];
    }),

  createBucket: (api: string, token: string, name: string) =>
    attempt(async () => {
      const { data } = await client(api, token).mutate({ mutation: CREATE_BUCKET, variables: { name } });
      return data;
    }),

  /** uploadObject with a file picked in the page (here: made of the given bytes). */
  upload: (api: string, token: string, bucket: string, key: string, base64: string) =>
    attempt(async () => {
      const file = new File([bytesOf(base64)], key, { type: 'application/octet-stream' });
      const { data } = await client(api, token).mutate({ mutation: UPLOAD, variables: { bucket, key, file } });
      return data;
    }),

  /** presign(method: PUT), then the PUT straight to the store with the answer's headers; the ETag read back. */
  presignedPut: (api: string, token: string, bucket: string, key: string, base64: string, contentType: string) =>
    attempt(async () => {
      const { data } = await client(api, token).mutate<Presigned>({
        mutation: PRESIGN_PUT,
        variables: { bucket, key, contentType },
      });
      const { url, headers } = data!.presign;
      const res = await fetch(url, {
        method: 'PUT',
        headers: Object.fromEntries(headers.map((h) => [h.key, h.value])),
        body: bytesOf(base64),
      });
      return { url, status: res.status, etag: res.headers.get('etag') };
    }),

  /** A download (`?download=1`) from /objects with the key, and the response headers the page may read. */
  download: (api: string, token: string, bucket: string, key: string) =>
    attempt(async () => {
      const res = await fetch(`${api}/objects/${bucket}/${encodeURIComponent(key)}?download=1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const readable = ['x-request-id', 'etag', 'content-length', 'content-disposition', 'content-type'];
      return {
        status: res.status,
        size: (await res.arrayBuffer()).byteLength,
        headers: Object.fromEntries(readable.map((name) => [name, res.headers.get(name)])),
      };
    }),
};

declare global {
  interface Window {
    page: typeof page;
  }
}
window.page = page;
