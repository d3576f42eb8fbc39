import { AppError, badInput, httpStatusOf, isPayloadTooLarge } from '../../core/errors.js';

/**
 * What a failed file part becomes: an AppError as it is (the HTTP layer's
 * upload errors are AppErrors: PAYLOAD_TOO_LARGE past MAX_UPLOAD_BYTES,
 * BAD_USER_INPUT when the client disconnected); graphql-upload-minimal's own
 * HTTP errors by their status, 413 as `tooLarge()`; anything else is left
 * for masking.
 */
export function fileError(err: unknown, tooLarge: () => AppError): unknown {
  if (err instanceof AppError) return err;
  if (isPayloadTooLarge(err)) return tooLarge();
  const status = httpStatusOf(err);
  if (status !== undefined && status >= 400 && status < 500 && err instanceof Error)
    return badInput('file', err.message);
  return err;
}
