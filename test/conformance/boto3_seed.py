"""The S3 operations our users run today with boto3 (RustFS's Python guide),
run against one store and reported as one JSON object on stdout for
test/conformance/boto3.test.ts to assert on.

Environment (all required):
  S3_ENDPOINT            e.g. http://127.0.0.1:9000
  S3_ACCESS_KEY_ID       key id to sign with
  S3_SECRET_ACCESS_KEY   secret to sign with (never printed)
  S3_BUCKET              a bucket name unused so far; created, used and deleted here
Optional:
  AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION
                         when_supported (boto3's default) or when_required

Files are generated and hashed in 1 MiB chunks, never held whole in memory.
Any unexpected failure is a traceback on stderr and exit status 1.
"""

import hashlib
import json
import os
import random
import sys
import tempfile
import urllib.request

import boto3
from botocore.client import Config
from botocore.exceptions import ClientError

MIB = 1024 * 1024
PART_SIZE = 5 * MIB


def make_file(path, size, seed):
    """Writes `size` pseudo-random bytes for `seed` to `path`, 1 MiB at a time; returns their sha256."""
    digest = hashlib.sha256()
    rng = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            chunk = rng.randbytes(min(left, MIB))
            f.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_stream(stream):
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: stream.read(MIB), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def multipart_upload(s3, bucket, key, path, fail_after_parts=None):
    """The guide's multipart upload in 5 MiB parts, aborted on failure.

    With `fail_after_parts`, a failure is simulated once that many parts are
    up; the upload is then aborted as the guide does and the error re-raised.
    """
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/zip")["UploadId"]
    try:
        parts = []
        part_number = 1
        with open(path, "rb") as f:
            while True:
                data = f.read(PART_SIZE)
                if not data:
                    break
                if fail_after_parts is not None and len(parts) == fail_after_parts:
                    raise RuntimeError("simulated failure during the upload")
                response = s3.upload_part(Bucket=bucket, Key=key, PartNumber=part_number, UploadId=upload_id, Body=data)
                parts.append({"ETag": response["ETag"], "PartNumber": part_number})
                part_number += 1
        result = s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        return {"etag": result["ETag"], "parts": len(parts)}
    except Exception:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def main():
    endpoint = os.environ["S3_ENDPOINT"]
    bucket = os.environ["S3_BUCKET"]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", retries={"max_attempts": 1, "mode": "standard"}),
        region_name="us-east-1",
    )
    out = {"bucket": bucket}

    # Buckets: create and list.
    s3.create_bucket(Bucket=bucket)
    listed = [b for b in s3.list_buckets()["Buckets"] if b["Name"] == bucket]
    out["listed_bucket"] = {"name": listed[0]["Name"], "creation_date": listed[0]["CreationDate"].isoformat()} if listed else None

    with tempfile.TemporaryDirectory() as tmp:
        # upload_file / download_file: a small file (one PUT) and one above
        # boto3's 8 MiB multipart threshold (its transfer manager goes multipart).
        out["files"] = []
        for key, size in (("data/small.bin", 100 * 1024), ("data/large.bin", 9 * MIB)):
            src = os.path.join(tmp, "up-" + key.replace("/", "_"))
            dst = os.path.join(tmp, "down-" + key.replace("/", "_"))
            sent = make_file(src, size, key)
            s3.upload_file(src, bucket, key)
            s3.download_file(bucket, key, dst)
            out["files"].append(
                {"key": key, "size": size, "sha256_sent": sent, "sha256_got": sha256_file(dst), "size_got": os.path.getsize(dst)}
            )

        # Presigned GET, fetched with urllib.
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "data/small.bin"}, ExpiresIn=300)
        with urllib.request.urlopen(url, timeout=30) as response:
            got, size = sha256_stream(response)
            out["presigned_get"] = {"status": response.status, "sha256": got, "size": size}

        # Multipart in 5 MiB parts: 11 MiB gives parts of 5, 5 and 1 MiB.
        big = os.path.join(tmp, "multipart.bin")
        sent = make_file(big, 11 * MIB, "multipart")
        result = multipart_upload(s3, bucket, "big/archive.zip", big)
        head = s3.head_object(Bucket=bucket, Key="big/archive.zip")
        got, size = sha256_stream(s3.get_object(Bucket=bucket, Key="big/archive.zip")["Body"])
        out["multipart"] = {
            **result,
            "sha256_sent": sent,
            "sha256_got": got,
            "size": size,
            "head_length": head["ContentLength"],
            "head_etag": head["ETag"],
            "content_type": head["ContentType"],
        }

        # The same upload failing after one part: aborted, nothing left behind.
        try:
            multipart_upload(s3, bucket, "big/failed.zip", big, fail_after_parts=1)
            out["aborted"] = {"raised": None}
        except RuntimeError as e:
            uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            out["aborted"] = {"raised": str(e), "uploads_left": [u["Key"] for u in uploads]}
        try:
            s3.head_object(Bucket=bucket, Key="big/failed.zip")
            out["aborted"]["object_exists"] = True
        except ClientError as e:
            out["aborted"]["object_exists"] = e.response["Error"]["Code"] != "404"

    # head_object of a missing key: ClientError with code "404".
    try:
        s3.head_object(Bucket=bucket, Key="data/missing.bin")
        out["head_missing"] = {"raised": False}
    except ClientError as e:
        out["head_missing"] = {
            "raised": True,
            "code": e.response["Error"]["Code"],
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
        }

    # list_objects_v2, one key per page, following ContinuationToken to the end.
    keys = []
    pages = 0
    kwargs = {"Bucket": bucket, "MaxKeys": 1}
    while True:
        page = s3.list_objects_v2(**kwargs)
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    out["listed_keys"] = keys
    out["list_pages"] = pages

    # delete_object, then delete_objects for the rest, then the bucket.
    s3.delete_object(Bucket=bucket, Key="data/small.bin")
    rest = [k for k in keys if k != "data/small.bin"]
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in rest]})
    out["deleted"] = sorted(d["Key"] for d in deleted.get("Deleted", []))
    out["delete_errors"] = deleted.get("Errors", [])
    out["left_after_delete"] = s3.list_objects_v2(Bucket=bucket).get("KeyCount")
    s3.delete_bucket(Bucket=bucket)
    out["bucket_listed_after_delete"] = any(b["Name"] == bucket for b in s3.list_buckets()["Buckets"])

    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
