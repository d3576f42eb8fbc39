/** The operations the console sends, with the types of their answers (names as in schema.graphql). */
import { gql, type TypedDocumentNode } from '@apollo/client';

export type Role = 'READ' | 'WRITE' | 'ADMIN';

export interface Viewer {
  name: string | null;
  anonymous: boolean;
  grants: { bucket: string; role: Role }[];
}

export const VIEWER: TypedDocumentNode<{ viewer: Viewer }> = gql`
  query ConsoleViewer {
    viewer {
      name
      anonymous
      grants {
        bucket
        role
      }
    }
  }
`;

export interface BucketRow {
  id: string;
  name: string;
  createdAt: string | null;
}

export const BUCKETS: TypedDocumentNode<{ buckets: BucketRow[] }> = gql`
  query ConsoleBuckets {
    buckets {
      id
      name
      createdAt
    }
  }
`;

export const CREATE_BUCKET: TypedDocumentNode<{ createBucket: BucketRow }, { name: string }> = gql`
  mutation ConsoleCreateBucket($name: String!) {
    createBucket(name: $name) {
      id
      name
      createdAt
    }
  }
`;

export const DELETE_BUCKET: TypedDocumentNode<{ deleteBucket: boolean }, { name: string }> = gql`
  mutation ConsoleDeleteBucket($name: String!) {
    deleteBucket(name: $name, force: true)
  }
`;

export interface ObjectRow {
  id: string;
  key: string;
  size: number;
  lastModified: string;
  etag: string;
}

export interface Listing {
  prefixes: string[];
  edges: { node: ObjectRow }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export interface ListVars {
  bucket: string;
  prefix: string;
  first: number;
  after: string | null;
}

export const LIST: TypedDocumentNode<{ bucket: { id: string; objects: Listing } | null }, ListVars> = gql`
  query ConsoleList($bucket: String!, $prefix: String!, $first: Int!, $after: String) {
    bucket(name: $bucket) {
      id
      objects(prefix: $prefix, delimiter: "/", first: $first, after: $after) {
        prefixes
        edges {
          node {
            id
            key
            size
            lastModified
            etag
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`;

export interface ObjectDetails extends ObjectRow {
  contentType: string | null;
  storageClass: string | null;
  downloadPath: string;
  metadata: { key: string; value: string }[];
}

export const OBJECT: TypedDocumentNode<{ object: ObjectDetails | null }, { bucket: string; key: string }> = gql`
  query ConsoleObject($bucket: String!, $key: String!) {
    object(bucket: $bucket, key: $key) {
      id
      key
      size
      lastModified
      etag
      contentType
      storageClass
      downloadPath
      metadata {
        key
        value
      }
    }
  }
`;

export const PRESIGN_GET: TypedDocumentNode<
  { presign: { url: string; expiresAt: string } },
  { bucket: string; key: string; expiresIn: number }
> = gql`
  mutation ConsoleShare($bucket: String!, $key: String!, $expiresIn: Int!) {
    presign(bucket: $bucket, key: $key, method: GET, expiresIn: $expiresIn) {
      url
      expiresAt
    }
  }
`;

export const COPY_OBJECT: TypedDocumentNode<
  { copyObject: { id: string; key: string } },
  { bucket: string; key: string; sourceKey: string }
> = gql`
  mutation ConsoleCopy($bucket: String!, $key: String!, $sourceKey: String!) {
    copyObject(sourceBucket: $bucket, sourceKey: $sourceKey, bucket: $bucket, key: $key) {
      id
      key
    }
  }
`;

interface DeleteResult {
  deleted: string[];
  errors: { key: string; code: string; message: string }[];
}

export const DELETE_OBJECTS: TypedDocumentNode<{ deleteObjects: DeleteResult }, { bucket: string; keys: string[] }> =
  gql`
    mutation ConsoleDeleteObjects($bucket: String!, $keys: [String!]!) {
      deleteObjects(bucket: $bucket, keys: $keys) {
        deleted
        errors {
          key
          code
          message
        }
      }
    }
  `;

export const DELETE_PREFIX: TypedDocumentNode<{ deletePrefix: DeleteResult }, { bucket: string; prefix: string }> = gql`
  mutation ConsoleDeletePrefix($bucket: String!, $prefix: String!) {
    deletePrefix(bucket: $bucket, prefix: $prefix) {
      deleted
      errors {
        key
        code
        message
      }
    }
  }
`;

export const UPLOAD_OBJECT: TypedDocumentNode<
  { uploadObject: { id: string; key: string; size: number } },
  { bucket: string; key: string; file: File; contentType: string | null }
> = gql`
  mutation ConsoleUpload($bucket: String!, $key: String!, $file: Upload!, $contentType: String) {
    uploadObject(bucket: $bucket, key: $key, file: $file, contentType: $contentType) {
      id
      key
      size
    }
  }
`;

export interface OpenUpload {
  id: string;
  key: string;
  uploadId: string;
  initiatedAt: string | null;
}

export const OPEN_UPLOADS: TypedDocumentNode<
  { bucket: { id: string; multipartUploads: OpenUpload[] } | null },
  { bucket: string }
> = gql`
  query ConsoleOpenUploads($bucket: String!) {
    bucket(name: $bucket) {
      id
      multipartUploads {
        id
        key
        uploadId
        initiatedAt
      }
    }
  }
`;

type Target = { bucket: string; key: string; uploadId: string };

export const MULTIPART_CREATE: TypedDocumentNode<
  { multipart: { create: { uploadId: string } } },
  { bucket: string; key: string; contentType: string | null }
> = gql`
  mutation ConsoleMultipartCreate($bucket: String!, $key: String!, $contentType: String) {
    multipart {
      create(bucket: $bucket, key: $key, contentType: $contentType) {
        id
        uploadId
      }
    }
  }
`;

export const MULTIPART_PRESIGN: TypedDocumentNode<
  { multipart: { presignPart: { url: string; headers: { key: string; value: string }[] } } },
  Target & { partNumber: number }
> = gql`
  mutation ConsolePresignPart($bucket: String!, $key: String!, $uploadId: String!, $partNumber: Int!) {
    multipart {
      presignPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: $partNumber, expiresIn: 900) {
        url
        headers {
          key
          value
        }
      }
    }
  }
`;

export const MULTIPART_UPLOAD_PART: TypedDocumentNode<
  { multipart: { uploadPart: { etag: string } } },
  Target & { partNumber: number; file: Blob; size: number }
> = gql`
  mutation ConsoleUploadPart(
    $bucket: String!
    $key: String!
    $uploadId: String!
    $partNumber: Int!
    $file: Upload!
    $size: SafeInt!
  ) {
    multipart {
      uploadPart(bucket: $bucket, key: $key, uploadId: $uploadId, partNumber: $partNumber, file: $file, size: $size) {
        etag
      }
    }
  }
`;

export const MULTIPART_COMPLETE: TypedDocumentNode<
  { multipart: { complete: { id: string; key: string } } },
  Target & { parts: { partNumber: number; etag: string }[] }
> = gql`
  mutation ConsoleMultipartComplete(
    $bucket: String!
    $key: String!
    $uploadId: String!
    $parts: [CompletedPartInput!]!
  ) {
    multipart {
      complete(bucket: $bucket, key: $key, uploadId: $uploadId, parts: $parts) {
        id
        key
      }
    }
  }
`;

export const MULTIPART_ABORT: TypedDocumentNode<{ multipart: { abort: boolean } }, Target> = gql`
  mutation ConsoleMultipartAbort($bucket: String!, $key: String!, $uploadId: String!) {
    multipart {
      abort(bucket: $bucket, key: $key, uploadId: $uploadId)
    }
  }
`;
