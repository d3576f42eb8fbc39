/**
 * Known ways a store under test departs from what AWS documents.
 *
 * The conformance suite asserts AWS's documented behaviour. Where a store is
 * known to differ, the assertion names the deviation and asserts what that
 * store does instead, so:
 * - the test still runs and still fails if the store changes in any other way;
 * - a store that gets fixed fails the test, and the entry here is removed;
 * - this file is the full list of what each store gets wrong.
 *
 * ```ts
 * expect(out.ContentType).toBe(
 *   per(store, 'getObject.responseOverrides', { aws: 'application/x-custom', deviation: 'text/plain' }),
 * );
 * ```
 *
 * The embedded store must have none: it is ours, so its bugs get fixed rather
 * than listed.
 */
import type { StoreName, StoreUnderTest } from './provided.js';

/** One known deviation: what AWS documents (with where) and what the store does instead. */
interface Deviation {
  aws: string;
  store: string;
}

export type DeviationId =
  | 'getObject.responseOverrides'
  | 'copyObject.copySourceConditions'
  | 'deleteObjects.quiet'
  | 'multipart.partOrder'
  | 'multipart.uploadPartAfterAbort'
  | 'multipart.completeAfterAbort'
  | 'auth.signaturesNotChecked'
  | 'auth.anonymousReadNoErrorCode'
  | 'cors.preflightNotChecked'
  | 'postObject.policyNotChecked';

const expectedDeviations: Record<StoreName, Partial<Record<DeviationId, Deviation>>> = {
  moto: {
    'getObject.responseOverrides': {
      aws: 'GetObject: "response-content-type ... Sets the Content-Type header of the response" (likewise response-content-disposition and the other response-* parameters of signed requests).',
      store: 'moto ignores the response-* query parameters and returns the stored headers.',
    },
    'copyObject.copySourceConditions': {
      aws: 'CopyObject and UploadPartCopy: x-amz-copy-source-if-match, -if-none-match, -if-modified-since and -if-unmodified-since are checked against the source; one that fails is 412 PreconditionFailed and nothing is copied.',
      store:
        'moto checks only x-amz-copy-source-if-none-match, and only on CopyObject: it ignores the other three there and all four on UploadPartCopy, copying whatever the source is.',
    },
    'deleteObjects.quiet': {
      aws: 'DeleteObjects: "In quiet mode the response includes only keys where the delete action encountered an error."',
      store: 'moto lists every deleted key in quiet mode too.',
    },
    'multipart.partOrder': {
      aws: 'CompleteMultipartUpload: "InvalidPartOrder: The list of parts was not in ascending order. The parts list must be specified in order by part number." (400)',
      store: 'moto completes the upload (200) with the parts in the order listed.',
    },
    'multipart.uploadPartAfterAbort': {
      aws: 'AbortMultipartUpload: "After a multipart upload is aborted, no additional parts can be uploaded using that upload ID"; UploadPart with it gives NoSuchUpload (404: "The specified multipart upload does not exist").',
      store: 'moto answers 500 with an HTML error page.',
    },
    'multipart.completeAfterAbort': {
      aws: 'CompleteMultipartUpload: "NoSuchUpload ... The upload ID might be invalid, or the multipart upload might have been aborted or completed." (404)',
      store: 'moto answers 500 with an HTML error page.',
    },
    'auth.signaturesNotChecked': {
      aws: 'Authenticating Requests (AWS Signature Version 4): a wrong signature is 403 SignatureDoesNotMatch, an unknown key id 403 InvalidAccessKeyId, an expired presigned URL 403 AccessDenied ("Request has expired"), an anonymous request to a private bucket 403 AccessDenied.',
      store:
        'moto accepts any credentials and any signature, expired or not, and anonymous writes (it does not authenticate).',
    },
    'auth.anonymousReadNoErrorCode': {
      aws: 'Error responses: every error carries an XML body with <Code>; an anonymous GET of a private object is 403 AccessDenied.',
      store:
        'moto refuses an anonymous GET of a private object with 403 and an empty text/html body (its ACL check), so no error code.',
    },
    'cors.preflightNotChecked': {
      aws: 'CORS configuration: "Amazon S3 evaluates the CORS configuration for the bucket and uses the first CORSRule rule that matches the incoming browser request"; a preflight that no rule matches is 403 (AccessForbidden).',
      store:
        "moto grants every preflight to a bucket without rules (200, the request's own origin and every method: its server's flask-cors), and answers a preflight the bucket's rules refuse with 403 that still carries Access-Control-Allow-Origin.",
    },
    'postObject.policyNotChecked': {
      aws: 'POST Object: the policy\'s signature, expiration and every condition are checked; a form that breaks one is 403 AccessDenied ("Invalid according to Policy: ..."), a file past content-length-range 400 EntityTooLarge, and nothing is stored.',
      store:
        'moto checks neither the policy nor its signature: it stores whatever the form sends (201 or 204 as asked).',
    },
  },
  embedded: {},
};

/** Whether `store` is known to deviate from AWS at `id`. */
function deviates(store: StoreUnderTest, id: DeviationId): boolean {
  return expectedDeviations[store.name][id] !== undefined;
}

/** `expected.deviation` for a store known to deviate at `id`, `expected.aws` for every other. */
export function per<T>(store: StoreUnderTest, id: DeviationId, expected: { aws: T; deviation: T }): T {
  return deviates(store, id) ? expected.deviation : expected.aws;
}
