# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The S3 core of s3_crr_sync: what differs between two buckets, how to copy it, the CRR rule.

Listing: both buckets are read as streams of pages (ListObjectsV2, 1,000 keys a page; with
deletions, the source's ListObjectVersions) and merged key by key, in S3's order (UTF-8 byte
order, which is Python's order of str). Only the differences are kept, so memory does not grow
with the bucket.

"Different" is decided without downloading anything (`quick_verdict`, then `head_verdict`):
1. missing in the destination, or another size: different;
2. the same ETag: the same object (an ETag is a digest of the content and, for multipart objects,
   of the part layout; two equal ETags of equal sizes are the same content);
3. otherwise ETags may differ for equal content (a multipart source copied as one part, SSE-KMS
   objects, whose ETag is not an MD5), so both objects are read with HeadObject:
   - what our copy recorded: the source ETag it copied, in the destination's metadata
     (RECORD_KEY). Equal to the source's ETag now: the same; else different;
   - a full-object checksum of the same algorithm on both: equal or not;
   - both single-part and not KMS-encrypted: the ETags are MD5s, so they differ;
   - else the module cannot prove them equal and copies (a copy of an equal object loses nothing).

Copies are server-side (CopyObject; above the multipart threshold CreateMultipartUpload +
UploadPartCopy), of the exact version inspected, keeping content type, metadata, tags, storage
class and encryption (SSE-KMS with a key of the destination region). When the destination's ETag
cannot equal the source's (multipart or KMS), the copy records the source ETag (RECORD_KEY).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import itertools
import re
import threading
import urllib.parse
from dataclasses import dataclass, field

try:
    from botocore import handlers as _botocore_handlers
except ImportError:  # the module reports the missing botocore
    _botocore_handlers = None

from ansible_collections.lomashwood.multiregion.plugins.module_utils.aws import RETRY, is_error_code

MIB = 1024 * 1024
GIB = 1024 * MIB
MAX_SINGLE_COPY = 5 * GIB  # CopyObject's limit; above it only UploadPartCopy works
MIN_PART = 5 * MIB
MAX_PARTS = 10000
# The metadata key where a copy records the source ETag it copied (x-amz-meta-lomashwood-source-etag).
RECORD_KEY = "lomashwood-source-etag"
KMS = ("aws:kms", "aws:kms:dsse")
CHECKSUMS = ("ChecksumCRC64NVME", "ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256")
# What HeadObject says that a copy with MetadataDirective=REPLACE must pass on again.
CONTENT_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage",
                   "Expires", "WebsiteRedirectLocation")
NOT_FOUND = ("404", "NoSuchKey", "NotFound", "NoSuchBucket")


# ---- inputs -------------------------------------------------------------------------------------

def check_prefix(prefix, option="prefix"):
    """Problems with a key prefix: S3 keys are at most 1,024 bytes and have no leading '/' here."""
    if not prefix:
        return []
    problems = []
    if prefix.startswith("/"):
        problems.append("%s: %r starts with '/'; S3 keys do not (write %r)" % (option, prefix, prefix.lstrip("/")))
    if len(prefix.encode("utf-8")) > 1024:
        problems.append("%s: %r is longer than S3's 1,024-byte keys" % (option, prefix[:40] + "..."))
    if re.search(r"[\x00-\x1f\x7f]", prefix):
        problems.append("%s: %r holds a control character" % (option, prefix))
    return problems


def parse_time(value, now, option="modified_since"):
    """(datetime in UTC, problems). Accepts ISO 8601 ('2026-12-03T09:15:00Z', a naive time is UTC)
    or seconds since the epoch; refuses a time in the future (nothing is newer than it)."""
    if value in (None, ""):
        return None, []
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", text):
            when = datetime.datetime.fromtimestamp(float(text), datetime.timezone.utc)
        else:
            when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=datetime.timezone.utc)
    except (ValueError, OverflowError):
        return None, ["%s: %r is not a time (ISO 8601, e.g. 2026-12-03T09:15:00Z, or epoch seconds)" % (option, value)]
    if when > now:
        return None, ["%s: %s is in the future (now %s)" % (option, when.isoformat(), now.isoformat(timespec="seconds"))]
    return when.astimezone(datetime.timezone.utc), []


def check_pair(source, destination):
    """Problems with a source/destination pair given as {bucket, region}."""
    if source["bucket"] == destination["bucket"]:
        return ["destination: bucket %r is the source bucket (%s); source and destination must differ"
                % (destination["bucket"], source["region"])]
    return []


def bucket_region(client, bucket):
    """The bucket's region, or None when there is no such bucket (HeadBucket; a 301 names it too)."""
    try:
        answer = client.head_bucket(Bucket=bucket, aws_retry=True)
    except Exception as exc:  # pylint: disable=broad-except
        response = getattr(exc, "response", None) or {}
        if is_error_code(exc, *NOT_FOUND):
            return None
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if headers.get("x-amz-bucket-region"):
            return headers["x-amz-bucket-region"]
        raise
    region = answer.get("BucketRegion") or answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
    return region or location(client, bucket)


def location(client, bucket):
    found = client.get_bucket_location(Bucket=bucket, aws_retry=True).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(found, found)


def versioning(client, bucket):
    return client.get_bucket_versioning(Bucket=bucket, aws_retry=True).get("Status") or "Unversioned"


def kms_key_region(key_id):
    """The region named in a KMS key ARN, else None (an id or alias is looked up in the region used)."""
    match = re.match(r"arn:aws[\w-]*:kms:([a-z0-9-]+):", key_id or "")
    return match.group(1) if match else None


# ---- listing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Listed:
    """One key as a listing shows it: the current version, or a delete marker (deleted=True)."""

    key: str
    size: int = 0
    etag: str = ""
    last_modified: datetime.datetime = None
    storage_class: str = "STANDARD"
    deleted: bool = False

    def view(self):
        if self.deleted:
            return dict(deleted=True, last_modified=_iso(self.last_modified))
        return dict(size=self.size, etag=self.etag, last_modified=_iso(self.last_modified))


def _listed(entry, deleted=False):
    return Listed(entry["Key"], int(entry.get("Size", 0)), entry.get("ETag", ""), entry.get("LastModified"),
                  entry.get("StorageClass") or "STANDARD", deleted)


# A ListObjectsV2 answer's next-page token, read in its raw body (before-parse): S3's tokens are opaque
# text without markup; one with an XML entity in it is left to the parsed answer.
_NEXT_TOKEN = re.compile(rb"<NextContinuationToken>([^<&]+)</NextContinuationToken>")
_TRUNCATED = b"<IsTruncated>true</IsTruncated>"
_EARLY = threading.local()  # .start: what the listing in this thread does with the next page's token


def _early_token(response_dict=None, **_kwargs):
    """before-parse.s3.ListObjectsV2: hand the next page's token to the listing whose call this is, before
    the page (1,000 keys) is parsed, so the next page's call is on its way meanwhile."""
    start = getattr(_EARLY, "start", None)
    if start is None or not response_dict or response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes) or _TRUNCATED not in body:
        return
    found = _NEXT_TOKEN.search(body)
    if found:
        _EARLY.start = None  # once per call: an answer tried again is not a second next page
        start(found.group(1).decode("utf-8"))


# The root element of an S3 answer that is XML, after an optional XML declaration.
_XML_ROOT = re.compile(rb"\s*(?:<\?xml[^>]*\?>\s*)?<([A-Za-z_][\w.-]*)[\s/>]")


def plainly_no_error(body):
    """Whether a 200 answer's body is plainly not an S3 error: XML whose root element is not <Error>
    and is closed at the end (an answer cut short by the network is not)."""
    found = _XML_ROOT.match(body)
    return bool(found) and found.group(1) != b"Error" and body.rstrip().endswith(b"</" + found.group(1) + b">")


def _check_200_error(operation_model, response_dict, **kwargs):
    """botocore's before-parse check of an S3 answer for an error inside a 200 (an <Error> document, or a
    body cut short: both are tried again as a 500), without parsing the whole body as XML first
    (~2.5 ms for a 1,000-key listing page) when it is plainly no error; anything else is botocore's to judge."""
    if response_dict and response_dict.get("status_code") == 200:
        body = response_dict.get("body")
        if not body or (isinstance(body, bytes) and plainly_no_error(body)):
            return
    _botocore_handlers._handle_200_error(operation_model, response_dict, **kwargs)  # pylint: disable=protected-access


def fast_client(client):
    """The S3 client with the listing's early next page (current_pages) and the quicker 200-error check."""
    events = client.meta.events
    events.register("before-parse.s3.ListObjectsV2", _early_token, unique_id="lomashwood-s3-early-token")
    if _botocore_handlers is not None and hasattr(_botocore_handlers, "_handle_200_error"):
        events.unregister("before-parse.s3.*", _botocore_handlers._handle_200_error)  # pylint: disable=protected-access
        events.register_first("before-parse.s3.*", _check_200_error, unique_id="lomashwood-s3-200-error")
    return client


def _in_thread(func, *args):
    """func(*args) in a daemon thread of its own; a Future of its result (a listing given up on ends with the module)."""
    future = concurrent.futures.Future()

    def run():
        try:
            future.set_result(func(*args))
        except BaseException as exc:  # pylint: disable=broad-except
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


def current_pages(client, bucket, prefix="", counts=None, ahead=2):
    """Every current object under prefix, in key order, as pages (lists of up to 1,000 keys).

    The pages come one after the other (each needs the previous one's continuation token), so a
    listing is a chain of round trips. Each page's call starts as soon as the previous page's
    answer has arrived, from the token read in its raw body, while that answer is parsed (~10 ms
    for 1,000 keys, several times that among busy copy threads): at most `ahead` pages are read
    before they are asked for. The page handed on is always the one the parsed token names: an
    early call for another token (which S3 does not give) is dropped, the right one made, and
    the rest of the listing read page after page.
    """
    kwargs = dict(Bucket=bucket, Prefix=prefix or "", MaxKeys=1000)
    room = threading.Semaphore(ahead)
    stopped = threading.Event()
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is not None:
        events.register("before-parse.s3.ListObjectsV2", _early_token, unique_id="lomashwood-s3-early-token")

    def fetch(args):
        """(page, [(token, Future of fetch(next page))] when the next page's call started early)."""
        early = []

        def start(token):
            if not stopped.is_set() and room.acquire(blocking=False):
                early.append((token, _in_thread(fetch, dict(kwargs, ContinuationToken=token))))

        _EARLY.start = start
        try:
            return client.list_objects_v2(aws_retry=True, **args), early
        finally:
            _EARLY.start = None

    page, early = fetch(kwargs)
    try:
        while True:
            items = [_listed(entry) for entry in page.get("Contents", [])]
            if counts is not None:
                counts[bucket] = counts.get(bucket, 0) + len(items)
            yield items
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]
            if early and early[0][0] == token:
                room.release()
                page, early = early[0][1].result()
            else:
                if early:  # not expected: the rest of the listing goes page after page
                    stopped.set()
                page, early = fetch(dict(kwargs, ContinuationToken=token))
    finally:
        stopped.set()  # a listing given up on (an error, the caller gone) starts nothing more


def list_current(client, bucket, prefix="", counts=None):
    """Every current object under prefix, in key order."""
    return itertools.chain.from_iterable(current_pages(client, bucket, prefix, counts))


def latest_pages(client, bucket, prefix="", counts=None):
    """Every key's latest version under prefix, delete markers included, in key order, as pages
    (ListObjectVersions). A page holds versions and delete markers in two lists; the latest of
    each key is in one of them."""
    kwargs = dict(Bucket=bucket, Prefix=prefix or "", MaxKeys=1000)
    while True:
        page = client.list_object_versions(aws_retry=True, **kwargs)
        latest = [_listed(v) for v in page.get("Versions", []) if v.get("IsLatest")]
        latest += [_listed(m, deleted=True) for m in page.get("DeleteMarkers", []) if m.get("IsLatest")]
        if counts is not None:
            counts[bucket] = counts.get(bucket, 0) + sum(1 for item in latest if not item.deleted)
        yield sorted(latest, key=lambda i: i.key)
        if not page.get("IsTruncated"):
            return
        kwargs.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page.get("NextVersionIdMarker") or "")


def list_latest(client, bucket, prefix="", counts=None):
    """Every key's latest version under prefix, delete markers included, in key order."""
    return itertools.chain.from_iterable(latest_pages(client, bucket, prefix, counts))


def merge(source, destination):
    """(key, source item or None, destination item or None) for every key of two key-ordered streams."""
    src, dst = next(source, None), next(destination, None)
    while src is not None or dst is not None:
        if dst is None or (src is not None and src.key < dst.key):
            yield src.key, src, None
            src = next(source, None)
        elif src is None or dst.key < src.key:
            yield dst.key, None, dst
            dst = next(destination, None)
        else:
            yield src.key, src, dst
            src, dst = next(source, None), next(destination, None)


# ---- deciding what differs ----------------------------------------------------------------------

def quick_verdict(src, dst):
    """From the listings alone: 'missing', 'size', None (the same), or 'unknown' (HeadObject decides)."""
    if dst is None or dst.deleted:
        return "missing"
    if src.size != dst.size:
        return "size"
    if src.etag == dst.etag:
        return None
    return "unknown"


def plain_md5(head):
    """Whether an object's ETag is the MD5 of its content: one part, not KMS- or customer-encrypted."""
    return ("-" not in head.get("ETag", "") and head.get("ServerSideEncryption") not in KMS
            and not head.get("SSECustomerAlgorithm"))


def _full_object_checksums(head):
    if head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return {}
    return {name: head[name] for name in CHECKSUMS if head.get(name)}


def head_verdict(src_head, dst_head):
    """For two objects of equal size and different ETags: None (the same) or why they differ.

    'unproven' means nothing shows them equal; the caller copies, which loses nothing.
    """
    recorded = (dst_head.get("Metadata") or {}).get(RECORD_KEY)
    if recorded:
        return None if recorded == src_head["ETag"].strip('"') else "changed"
    src_sums, dst_sums = _full_object_checksums(src_head), _full_object_checksums(dst_head)
    common = [name for name in CHECKSUMS if name in src_sums and name in dst_sums]
    if common:
        return None if src_sums[common[0]] == dst_sums[common[0]] else "checksum"
    if plain_md5(src_head) and plain_md5(dst_head):
        return "etag"
    return "unproven"


# ---- the plan -----------------------------------------------------------------------------------

@dataclass
class CopyObject:
    """Copy one key's current version from the source to the destination."""

    name: str
    reason: str  # missing | size | etag | checksum | changed | unproven
    source: Listed
    current: Listed = None  # in the destination, None when missing
    head: dict = field(default_factory=dict)  # the source's HeadObject
    multipart: bool = False
    changed: bool = True
    action: str = "copy"

    @property
    def size(self):
        return self.source.size

    def as_dict(self):
        return dict(name=self.name, action="multipart_copy" if self.multipart else "copy", reason=self.reason,
                    bytes=self.size, changed=self.changed)


@dataclass
class DeleteObject:
    """Delete one key in the destination (a deletion made in the source: its latest is a delete marker)."""

    name: str
    current: Listed
    marker: Listed
    changed: bool = True
    action: str = "delete"
    reason: str = "deleted in the source"

    def as_dict(self):
        return dict(name=self.name, action="delete", reason=self.reason, bytes=self.current.size, changed=True)


def needs_record(head, destination_kms=False):
    """Whether the copy's ETag cannot equal the source's (a multipart or KMS source, or a destination
    that encrypts with KMS by default), so the copy records the source ETag."""
    return "-" in head["ETag"] or head.get("ServerSideEncryption") in KMS or destination_kms


def default_kms(client, bucket):
    """Whether the bucket encrypts new objects with KMS by default (their ETags are then not MD5s)."""
    try:
        rules = client.get_bucket_encryption(Bucket=bucket, aws_retry=True)["ServerSideEncryptionConfiguration"]["Rules"]
    except Exception as exc:  # pylint: disable=broad-except
        if is_error_code(exc, "ServerSideEncryptionConfigurationNotFoundError"):
            return False
        raise
    return any(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in KMS for r in rules)


def encryption_args(head, kms_key_id):
    """The destination's encryption, kept from the source: SSE-S3 stays, SSE-KMS takes the given key."""
    sse = head.get("ServerSideEncryption")
    if sse in KMS:
        args = dict(ServerSideEncryption=sse, SSEKMSKeyId=kms_key_id)
        if head.get("BucketKeyEnabled"):
            args["BucketKeyEnabled"] = True
        return args
    if sse:
        return dict(ServerSideEncryption=sse)
    return {}


class CopyRefused(Exception):
    """An object a server-side copy cannot take over as it is (see copy_problem)."""


def copy_problem(head, kms_key_id):
    """Why this object cannot be copied keeping its encryption, or None."""
    if head.get("ServerSideEncryption") in KMS and not kms_key_id:
        return "SSE-KMS encrypted: kms_key_id must name a KMS key of the destination region"
    if head.get("SSECustomerAlgorithm"):
        return "encrypted with a customer key (SSE-C), which a server-side copy cannot read"
    return None


def encryption_problems(plan, kms_key_id):
    """Copies that cannot keep their encryption: KMS without a destination key, customer keys (SSE-C)."""
    problems = []
    kms = [a.name for a in plan if isinstance(a, CopyObject) and a.head.get("ServerSideEncryption") in KMS]
    if kms and not kms_key_id:
        problems.append("kms_key_id: %d object(s) are SSE-KMS encrypted (%s) and need a KMS key of the "
                        "destination region" % (len(kms), ", ".join(kms[:5])))
    ssec = [a.name for a in plan if isinstance(a, CopyObject) and a.head.get("SSECustomerAlgorithm")]
    if ssec:
        problems.append("source: %d object(s) are encrypted with a customer key (SSE-C), which a server-side copy "
                        "cannot read: %s" % (len(ssec), ", ".join(ssec[:5])))
    return problems


def copy_properties(head, kms_key_id, destination_kms=False):
    """What CopyObject / CreateMultipartUpload pass so the copy keeps the source's properties."""
    args = encryption_args(head, kms_key_id)
    if head.get("StorageClass") and head["StorageClass"] != "STANDARD":
        args["StorageClass"] = head["StorageClass"]
    if needs_record(head, destination_kms):
        # Metadata is replaced to add the record, so everything the object's headers say goes with it.
        args.update({k: head[k] for k in CONTENT_HEADERS if head.get(k)})
        args["Metadata"] = dict(head.get("Metadata") or {}, **{RECORD_KEY: head["ETag"].strip('"')})
        args["MetadataDirective"] = "REPLACE"
    return args


def source_ref(bucket, action):
    ref = dict(Bucket=bucket, Key=action.name)
    if action.head.get("VersionId") not in (None, "null"):
        ref["VersionId"] = action.head["VersionId"]  # the exact version inspected, not whatever is current now
    return ref


def copy_object(client, bucket, action, source_bucket, kms_key_id, destination_kms=False):
    """One server-side CopyObject (tags and metadata copied by S3; see copy_properties)."""
    args = copy_properties(action.head, kms_key_id, destination_kms)
    args.setdefault("MetadataDirective", "COPY")
    answer = client.copy_object(Bucket=bucket, Key=action.name, CopySource=source_ref(source_bucket, action),
                                TaggingDirective="COPY", aws_retry=True, **args)
    return answer.get("CopyObjectResult", {}).get("ETag")


def part_ranges(size, part_size):
    """Byte ranges ('bytes=a-b') of a multipart copy, the part size grown if 10,000 parts are too few."""
    part_size = max(part_size, MIN_PART, -(-size // MAX_PARTS))
    return ["bytes=%d-%d" % (start, min(start + part_size, size) - 1) for start in range(0, size, part_size)]


def multipart_copy(client, bucket, action, source_bucket, kms_key_id, destination_kms, part_size, tags, run_parts):
    """CreateMultipartUpload + UploadPartCopy per range (run_parts runs them, concurrently) + Complete;
    aborted on failure, so no half upload is left behind."""
    args = copy_properties(action.head, kms_key_id, destination_kms)
    args.pop("MetadataDirective", None)
    if "Metadata" not in args:  # a multipart upload starts empty: headers and metadata are given again
        args.update({k: action.head[k] for k in CONTENT_HEADERS if action.head.get(k)})
        args["Metadata"] = dict(action.head.get("Metadata") or {})
    if tags:
        args["Tagging"] = urllib.parse.urlencode(tags)
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=action.name, aws_retry=True, **args)["UploadId"]
    ref = source_ref(source_bucket, action)
    try:
        def part(numbered):
            number, byte_range = numbered
            answer = client.upload_part_copy(Bucket=bucket, Key=action.name, UploadId=upload_id, PartNumber=number,
                                             CopySource=ref, CopySourceRange=byte_range, aws_retry=True)
            return dict(PartNumber=number, ETag=answer["CopyPartResult"]["ETag"])

        parts = run_parts(part, list(enumerate(part_ranges(action.size, part_size), start=1)))
        answer = client.complete_multipart_upload(Bucket=bucket, Key=action.name, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts}, aws_retry=True)
        return answer.get("ETag")
    except Exception:
        client.abort_multipart_upload(Bucket=bucket, Key=action.name, UploadId=upload_id, aws_retry=True)
        raise


def tag_dict(client, bucket, action):
    ref = source_ref(bucket, action)
    tags = client.get_object_tagging(aws_retry=True, **ref).get("TagSet", [])
    return {t["Key"]: t["Value"] for t in tags}


def delete_objects(client, bucket, keys):
    """DeleteObjects, 1,000 keys a call; {key: error message} for the keys S3 refused."""
    errors = {}
    for start in range(0, len(keys), 1000):
        chunk = keys[start:start + 1000]
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
                                       aws_retry=True)
        for error in answer.get("Errors", []):
            errors[error["Key"]] = "%s: %s" % (error.get("Code"), error.get("Message"))
    return errors


# ---- what the run reports -----------------------------------------------------------------------

class Tally:
    """Count, bytes, the oldest time and the first keys of a group of objects (memory stays flat)."""

    def __init__(self, sample_size=10):
        self.count, self.bytes, self.oldest, self.keys, self.sample_size = 0, 0, None, [], sample_size

    def add(self, key, size=0, when=None):
        self.count += 1
        self.bytes += size or 0
        if when is not None and (self.oldest is None or when < self.oldest):
            self.oldest = when
        if len(self.keys) < self.sample_size:
            self.keys.append(key)

    def as_dict(self, now=None):
        out = dict(count=self.count, bytes=self.bytes, first_keys=list(self.keys))
        if now is not None:
            out["oldest"] = _iso(self.oldest)
            out["oldest_age_seconds"] = round((now - self.oldest).total_seconds(), 1) if self.oldest else None
        return out


def _iso(when):
    return when.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z") if when else None


# ---- the replication rule -----------------------------------------------------------------------

def wanted_rule(spec, destination_bucket, prefix):
    """The CRR rule as PutBucketReplication takes it, from the module's replication options."""
    rule = {
        "ID": spec["rule_id"],
        "Priority": spec["priority"],
        "Status": "Enabled" if spec["status"] == "enabled" else "Disabled",
        "Filter": {"Prefix": prefix or ""},
        "DeleteMarkerReplication": {"Status": "Enabled" if spec["delete_marker_replication"] else "Disabled"},
        "Destination": {"Bucket": "arn:aws:s3:::%s" % destination_bucket, "StorageClass": spec["storage_class"]},
    }
    if spec.get("replica_kms_key_id"):
        rule["Destination"]["EncryptionConfiguration"] = {"ReplicaKmsKeyID": spec["replica_kms_key_id"]}
        rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    return rule


def rule_view(rule, role=None):
    """A rule in a few plain fields, for results, --diff and comparison; None when absent."""
    if not rule:
        return None
    destination = rule.get("Destination", {})
    prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
    return dict(
        id=rule.get("ID"), status=rule.get("Status"), priority=rule.get("Priority"), prefix=prefix or "",
        destination_bucket=destination.get("Bucket", "").split(":::")[-1] or None,
        storage_class=destination.get("StorageClass", "STANDARD"),
        delete_marker_replication=rule.get("DeleteMarkerReplication", {}).get("Status") == "Enabled",
        replica_kms_key_id=destination.get("EncryptionConfiguration", {}).get("ReplicaKmsKeyID"),
        role=role,
    )


def read_replication(client, bucket):
    """The bucket's replication configuration, or None."""
    try:
        return client.get_bucket_replication(Bucket=bucket, aws_retry=True)["ReplicationConfiguration"]
    except Exception as exc:  # pylint: disable=broad-except
        if is_error_code(exc, "ReplicationConfigurationNotFoundError", "NoSuchReplicationConfiguration"):
            return None
        raise


def find_rule(config, rule_id=None, destination_bucket=None):
    """Our rule in a configuration: by id, else the one to the destination bucket, else the only one."""
    rules = (config or {}).get("Rules", [])
    for rule in rules:
        if rule_id and rule.get("ID") == rule_id:
            return rule
    if rule_id:
        return None
    for rule in rules:
        if destination_bucket and rule.get("Destination", {}).get("Bucket", "").endswith(":::" + destination_bucket):
            return rule
    return rules[0] if len(rules) == 1 and not destination_bucket else None


def merged_config(config, rule, role_arn, absent=False):
    """The configuration with our rule put in (or taken out); other rules are kept as they are."""
    others = [r for r in (config or {}).get("Rules", []) if r.get("ID") != rule["ID"]]
    rules = others if absent else others + [rule]
    return dict(Role=role_arn or (config or {}).get("Role"), Rules=rules) if rules else None


@RETRY
def role_arn(iam, role):
    """An IAM role's ARN from its name or ARN; None when there is no such role."""
    name = role.rsplit("/", 1)[-1]
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except Exception as exc:  # pylint: disable=broad-except
        if is_error_code(exc, "NoSuchEntity"):
            return None
        raise


def replication_latency(cloudwatch, source_bucket, destination_bucket, rule_id, now):
    """The highest CloudWatch AWS/S3 ReplicationLatency of the last 15 minutes, or None where unpublished."""
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/S3", MetricName="ReplicationLatency", Statistics=["Maximum"], Period=60,
        StartTime=now - datetime.timedelta(minutes=15), EndTime=now,
        Dimensions=[dict(Name="SourceBucket", Value=source_bucket), dict(Name="DestinationBucket", Value=destination_bucket),
                    dict(Name="RuleId", Value=rule_id)], aws_retry=True)
    points = answer.get("Datapoints", [])
    return max(p["Maximum"] for p in points) if points else None
