/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** One user-metadata entry to store with an object. Keys are HTTP token characters and are stored lower-case; values are printable US-ASCII; keys and values together take at most 2 KiB. */
export type MetadataInput = {
  /** The name, without the x-amz-meta- prefix. */
  key: string;
  /** The value. */
  value: string;
};

/** The HTTP method a presigned URL is for. */
export type PresignMethod =
  /** Download the object. */
  | 'GET'
  /** Upload the object (one request, up to 5 GiB). */
  | 'PUT';

export type BucketsQueryVariables = Exact<{ [key: string]: never; }>;


export type BucketsQuery = { buckets: Array<{ id: string, name: string, createdAt: string | null }> };

export type BucketQueryVariables = Exact<{
  name: string;
}>;


export type BucketQuery = { bucket: { id: string, name: string, createdAt: string | null } | null };

export type CreateBucketMutationVariables = Exact<{
  name: string;
}>;


export type CreateBucketMutation = { createBucket: { id: string, name: string, createdAt: string | null } };

export type DeleteBucketMutationVariables = Exact<{
  name: string;
  force?: boolean | null | undefined;
}>;


export type DeleteBucketMutation = { deleteBucket: boolean };

export type ObjectFieldsFragment = { id: string, key: string, size: number, etag: string, lastModified: string, storageClass: string | null, bucket: { name: string } };

export type ListObjectsQueryVariables = Exact<{
  bucket: string;
  prefix?: string | null | undefined;
  delimiter?: string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ListObjectsQuery = { bucket: { objects: { prefixes: Array<string>, edges: Array<{ cursor: string, node: { id: string, key: string, size: number, etag: string, lastModified: string, storageClass: string | null, bucket: { name: string } } }>, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null } } } | null };

export type ListObjectsWithContentTypesQueryVariables = Exact<{
  bucket: string;
  prefix?: string | null | undefined;
}>;


export type ListObjectsWithContentTypesQuery = { bucket: { objects: { edges: Array<{ node: { key: string, contentType: string | null } }> }, object: { key: string, contentType: string | null } | null } | null };

export type ObjectQueryVariables = Exact<{
  bucket: string;
  key: string;
}>;


export type ObjectQuery = { object: { contentType: string | null, downloadPath: string, id: string, key: string, size: number, etag: string, lastModified: string, storageClass: string | null, metadata: Array<{ key: string, value: string }>, bucket: { name: string } } | null };

export type SameObjectTwiceQueryVariables = Exact<{
  bucket: string;
  key: string;
}>;


export type SameObjectTwiceQuery = { first: { contentType: string | null } | null, second: { contentType: string | null, metadata: Array<{ key: string, value: string }> } | null, bucket: { object: { size: number, contentType: string | null } | null } | null };

export type ObjectUrlQueryVariables = Exact<{
  bucket: string;
  key: string;
  expiresIn?: number | null | undefined;
}>;


export type ObjectUrlQuery = { object: { url: string } | null };

export type DeleteObjectMutationVariables = Exact<{
  bucket: string;
  key: string;
}>;


export type DeleteObjectMutation = { deleteObject: boolean };

export type DeleteObjectsMutationVariables = Exact<{
  bucket: string;
  keys: Array<string> | string;
}>;


export type DeleteObjectsMutation = { deleteObjects: { deleted: Array<string>, errors: Array<{ key: string, code: string, message: string }> } };

export type DeletePrefixMutationVariables = Exact<{
  bucket: string;
  prefix: string;
}>;


export type DeletePrefixMutation = { deletePrefix: { deleted: Array<string>, errors: Array<{ key: string, code: string, message: string }> } };

export type CopyObjectMutationVariables = Exact<{
  sourceBucket: string;
  sourceKey: string;
  bucket: string;
  key: string;
}>;


export type CopyObjectMutation = { copyObject: { contentType: string | null, id: string, key: string, size: number, etag: string, lastModified: string, storageClass: string | null, metadata: Array<{ key: string, value: string }>, bucket: { name: string } } };

export type PresignMutationVariables = Exact<{
  bucket: string;
  key: string;
  method?: PresignMethod | null | undefined;
  expiresIn?: number | null | undefined;
  contentType?: string | null | undefined;
}>;


export type PresignMutation = { presign: { url: string, method: PresignMethod, expiresAt: string, headers: Array<{ key: string, value: string }> } };

export type UploadObjectMutationVariables = Exact<{
  bucket: string;
  key: string;
  file: File | Blob | null;
  contentType?: string | null | undefined;
  metadata?: Array<MetadataInput> | MetadataInput | null | undefined;
}>;


export type UploadObjectMutation = { uploadObject: { contentType: string | null, id: string, key: string, size: number, etag: string, lastModified: string, storageClass: string | null, metadata: Array<{ key: string, value: string }>, bucket: { name: string } } };

export type PresignPostMutationVariables = Exact<{
  bucket: string;
  key?: string | null | undefined;
  keyPrefix?: string | null | undefined;
  maxBytes: number;
  contentType?: string | null | undefined;
  contentTypePrefix?: string | null | undefined;
  metadata?: Array<MetadataInput> | MetadataInput | null | undefined;
  expiresIn?: number | null | undefined;
}>;


export type PresignPostMutation = { presignPost: { url: string, expiresAt: string, maxBytes: number, fields: Array<{ key: string, value: string }> } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ObjectFieldsFragmentDoc = new TypedDocumentString(`
    fragment ObjectFields on Object {
  id
  key
  size
  etag
  lastModified
  storageClass
  bucket {
    name
  }
}
    `, {"fragmentName":"ObjectFields"}) as unknown as TypedDocumentString<ObjectFieldsFragment, unknown>;
export const BucketsDocument = new TypedDocumentString(`
    query Buckets {
  buckets {
    id
    name
    createdAt
  }
}
    `) as unknown as TypedDocumentString<BucketsQuery, BucketsQueryVariables>;
export const BucketDocument = new TypedDocumentString(`
    query Bucket($name: String!) {
  bucket(name: $name) {
    id
    name
    createdAt
  }
}
    `) as unknown as TypedDocumentString<BucketQuery, BucketQueryVariables>;
export const CreateBucketDocument = new TypedDocumentString(`
    mutation CreateBucket($name: String!) {
  createBucket(name: $name) {
    id
    name
    createdAt
  }
}
    `) as unknown as TypedDocumentString<CreateBucketMutation, CreateBucketMutationVariables>;
export const DeleteBucketDocument = new TypedDocumentString(`
    mutation DeleteBucket($name: String!, $force: Boolean) {
  deleteBucket(name: $name, force: $force)
}
    `) as unknown as TypedDocumentString<DeleteBucketMutation, DeleteBucketMutationVariables>;
export const ListObjectsDocument = new TypedDocumentString(`
    query ListObjects($bucket: String!, $prefix: String, $delimiter: String, $first: Int, $after: String) {
  bucket(name: $bucket) {
    objects(prefix: $prefix, delimiter: $delimiter, first: $first, after: $after) {
      edges {
        cursor
        node {
          ...ObjectFields
        }
      }
      prefixes
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
}
    fragment ObjectFields on Object {
  id
  key
  size
  etag
  lastModified
  storageClass
  bucket {
    name
  }
}`) as unknown as TypedDocumentString<ListObjectsQuery, ListObjectsQueryVariables>;
export const ListObjectsWithContentTypesDocument = new TypedDocumentString(`
    query ListObjectsWithContentTypes($bucket: String!, $prefix: String) {
  bucket(name: $bucket) {
    objects(prefix: $prefix) {
      edges {
        node {
          key
          contentType
        }
      }
    }
    object(key: "a.txt") {
      key
      contentType
    }
  }
}
    `) as unknown as TypedDocumentString<ListObjectsWithContentTypesQuery, ListObjectsWithContentTypesQueryVariables>;
export const ObjectDocument = new TypedDocumentString(`
    query Object($bucket: String!, $key: String!) {
  object(bucket: $bucket, key: $key) {
    ...ObjectFields
    contentType
    downloadPath
    metadata {
      key
      value
    }
  }
}
    fragment ObjectFields on Object {
  id
  key
  size
  etag
  lastModified
  storageClass
  bucket {
    name
  }
}`) as unknown as TypedDocumentString<ObjectQuery, ObjectQueryVariables>;
export const SameObjectTwiceDocument = new TypedDocumentString(`
    query SameObjectTwice($bucket: String!, $key: String!) {
  first: object(bucket: $bucket, key: $key) {
    contentType
  }
  second: object(bucket: $bucket, key: $key) {
    contentType
    metadata {
      key
      value
    }
  }
  bucket(name: $bucket) {
    object(key: $key) {
      size
      contentType
    }
  }
}
    `) as unknown as TypedDocumentString<SameObjectTwiceQuery, SameObjectTwiceQueryVariables>;
export const ObjectUrlDocument = new TypedDocumentString(`
    query ObjectUrl($bucket: String!, $key: String!, $expiresIn: Int) {
  object(bucket: $bucket, key: $key) {
    url(expiresIn: $expiresIn)
  }
}
    `) as unknown as TypedDocumentString<ObjectUrlQuery, ObjectUrlQueryVariables>;
export const DeleteObjectDocument = new TypedDocumentString(`
    mutation DeleteObject($bucket: String!, $key: String!) {
  deleteObject(bucket: $bucket, key: $key)
}
    `) as unknown as TypedDocumentString<DeleteObjectMutation, DeleteObjectMutationVariables>;
export const DeleteObjectsDocument = new TypedDocumentString(`
    mutation DeleteObjects($bucket: String!, $keys: [String!]!) {
  deleteObjects(bucket: $bucket, keys: $keys) {
    deleted
    errors {
      key
      code
      message
    }
  }
}
    `) as unknown as TypedDocumentString<DeleteObjectsMutation, DeleteObjectsMutationVariables>;
export const DeletePrefixDocument = new TypedDocumentString(`
    mutation DeletePrefix($bucket: String!, $prefix: String!) {
  deletePrefix(bucket: $bucket, prefix: $prefix) {
    deleted
    errors {
      key
      code
      message
    }
  }
}
    `) as unknown as TypedDocumentString<DeletePrefixMutation, DeletePrefixMutationVariables>;
export const CopyObjectDocument = new TypedDocumentString(`
    mutation CopyObject($sourceBucket: String!, $sourceKey: String!, $bucket: String!, $key: String!) {
  copyObject(
    sourceBucket: $sourceBucket
    sourceKey: $sourceKey
    bucket: $bucket
    key: $key
  ) {
    ...ObjectFields
    contentType
    metadata {
      key
      value
    }
  }
}
    fragment ObjectFields on Object {
  id
  key
  size
  etag
  lastModified
  storageClass
  bucket {
    name
  }
}`) as unknown as TypedDocumentString<CopyObjectMutation, CopyObjectMutationVariables>;
export const PresignDocument = new TypedDocumentString(`
    mutation Presign($bucket: String!, $key: String!, $method: PresignMethod, $expiresIn: Int, $contentType: String) {
  presign(
    bucket: $bucket
    key: $key
    method: $method
    expiresIn: $expiresIn
    contentType: $contentType
  ) {
    url
    method
    expiresAt
    headers {
      key
      value
    }
  }
}
    `) as unknown as TypedDocumentString<PresignMutation, PresignMutationVariables>;
export const UploadObjectDocument = new TypedDocumentString(`
    mutation UploadObject($bucket: String!, $key: String!, $file: Upload!, $contentType: String, $metadata: [MetadataInput!]) {
  uploadObject(
    bucket: $bucket
    key: $key
    file: $file
    contentType: $contentType
    metadata: $metadata
  ) {
    ...ObjectFields
    contentType
    metadata {
      key
      value
    }
  }
}
    fragment ObjectFields on Object {
  id
  key
  size
  etag
  lastModified
  storageClass
  bucket {
    name
  }
}`) as unknown as TypedDocumentString<UploadObjectMutation, UploadObjectMutationVariables>;
export const PresignPostDocument = new TypedDocumentString(`
    mutation PresignPost($bucket: String!, $key: String, $keyPrefix: String, $maxBytes: SafeInt!, $contentType: String, $contentTypePrefix: String, $metadata: [MetadataInput!], $expiresIn: Int) {
  presignPost(
    bucket: $bucket
    key: $key
    keyPrefix: $keyPrefix
    maxBytes: $maxBytes
    contentType: $contentType
    contentTypePrefix: $contentTypePrefix
    metadata: $metadata
    expiresIn: $expiresIn
  ) {
    url
    fields {
      key
      value
    }
    expiresAt
    maxBytes
  }
}
    `) as unknown as TypedDocumentString<PresignPostMutation, PresignPostMutationVariables>;