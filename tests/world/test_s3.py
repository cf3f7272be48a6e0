"""The world's S3 realism (issue 9, copy-back after a failover): call names, per-operation latency
and copy time, replication status, SSE-KMS ETags, the seeded buckets and the outage writes, bulk fill.

    scripts/in-netns.sh scripts/with-world.sh -- python -m pytest -q tests/world/test_s3.py
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.world import World, realism
from tests.world.seed import MEDIA_BUCKET, MEDIA_OBJECTS, MEDIA_REPLICA_BUCKET

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def multipart_etag(parts: list[bytes]) -> str:
    return '"' + hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f'-{len(parts)}"'


def bucket(world: World, name: str = "bucket-one", region: str = "eu-west-1", versioned: bool = True):
    s3 = world.client("s3", region)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return s3


def post(world: World, path: str, payload) -> tuple[int, dict]:
    req = urllib.request.Request(world.endpoint + path, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def timed(call, *args, **kwargs) -> float:
    started = time.monotonic()
    call(*args, **kwargs)
    return time.monotonic() - started


def upload(s3, name: str, key: str, parts: list[bytes], **extra) -> dict:
    upload_id = s3.create_multipart_upload(Bucket=name, Key=key, **extra)["UploadId"]
    done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=name, Key=key, UploadId=upload_id, PartNumber=n,
                                                      Body=part)["ETag"]}
            for n, part in enumerate(parts, 1)]
    return s3.complete_multipart_upload(Bucket=name, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done})


def body(s3, name: str, key: str) -> bytes:
    return s3.get_object(Bucket=name, Key=key)["Body"].read()


# --- call names ---


def test_identify_names_the_s3_rest_calls(world):
    s3 = bucket(world)
    s3.put_object(Bucket="bucket-one", Key="a/b.txt", Body=b"x")
    s3.put_object(Bucket="bucket-one", Key="big", Body=b"y" * (5 * MIB))
    upload_id = s3.create_multipart_upload(Bucket="bucket-one", Key="m")["UploadId"]
    role = "arn:aws:iam::123456789012:role/crr"
    rule = {"ID": "r", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Disabled"}, "Destination": {"Bucket": "arn:aws:s3:::bucket-one"}}
    parts = []
    calls = [
        ("HeadBucket", lambda: s3.head_bucket(Bucket="bucket-one")),
        ("GetBucketLocation", lambda: s3.get_bucket_location(Bucket="bucket-one")),
        ("GetBucketVersioning", lambda: s3.get_bucket_versioning(Bucket="bucket-one")),
        ("PutBucketReplication", lambda: s3.put_bucket_replication(
            Bucket="bucket-one", ReplicationConfiguration={"Role": role, "Rules": [rule]})),
        ("GetBucketReplication", lambda: s3.get_bucket_replication(Bucket="bucket-one")),
        ("PutObject", lambda: s3.put_object(Bucket="bucket-one", Key="c.txt", Body=b"z")),
        ("HeadObject", lambda: s3.head_object(Bucket="bucket-one", Key="a/b.txt")),
        ("GetObject", lambda: s3.get_object(Bucket="bucket-one", Key="a/b.txt")["Body"].read()),
        ("GetObjectTagging", lambda: s3.get_object_tagging(Bucket="bucket-one", Key="a/b.txt")),
        ("PutObjectTagging", lambda: s3.put_object_tagging(
            Bucket="bucket-one", Key="a/b.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})),
        ("CopyObject", lambda: s3.copy_object(Bucket="bucket-one", Key="d.txt",
                                              CopySource={"Bucket": "bucket-one", "Key": "a/b.txt"})),
        ("ListObjectsV2", lambda: s3.list_objects_v2(Bucket="bucket-one")),
        ("ListObjects", lambda: s3.list_objects(Bucket="bucket-one")),
        ("ListObjectVersions", lambda: s3.list_object_versions(Bucket="bucket-one")),
        ("DeleteObject", lambda: s3.delete_object(Bucket="bucket-one", Key="d.txt")),
        ("DeleteObjects", lambda: s3.delete_objects(Bucket="bucket-one", Delete={"Objects": [{"Key": "c.txt"}]})),
        ("CreateMultipartUpload", lambda: s3.create_multipart_upload(Bucket="bucket-one", Key="n")),
        ("UploadPart", lambda: parts.append(s3.upload_part(
            Bucket="bucket-one", Key="m", UploadId=upload_id, PartNumber=1, Body=b"p" * (5 * MIB))["ETag"])),
        ("UploadPartCopy", lambda: parts.append(s3.upload_part_copy(
            Bucket="bucket-one", Key="m", UploadId=upload_id, PartNumber=2, CopySource={"Bucket": "bucket-one", "Key": "big"},
            CopySourceRange="bytes=0-99")["CopyPartResult"]["ETag"])),
        ("CompleteMultipartUpload", lambda: s3.complete_multipart_upload(
            Bucket="bucket-one", Key="m", UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(parts, 1)]})),
        ("AbortMultipartUpload", lambda: s3.abort_multipart_upload(
            Bucket="bucket-one", Key="n",
            UploadId=s3.list_multipart_uploads(Bucket="bucket-one")["Uploads"][0]["UploadId"])),
    ]
    for name, call in calls:
        world.reset_calls()
        call()
        ops = world.calls()["by_operation"]
        if name == "AbortMultipartUpload":
            ops.pop("s3:ListMultipartUploads")
        assert ops == {f"s3:{name}": 1}, name


# --- latency ---


def test_operation_latency_replaces_latency_ms_for_that_call(world):
    s3 = bucket(world)
    s3.put_object(Bucket="bucket-one", Key="k", Body=b"x")
    s3.head_object(Bucket="bucket-one", Key="k")  # warm up
    world.configure(operation_latency_ms={"s3:HeadObject": 400})
    assert timed(s3.head_object, Bucket="bucket-one", Key="k") >= 0.39
    assert timed(s3.get_object, Bucket="bucket-one", Key="k") < 0.3  # not listed: latency_ms (0)
    world.configure(latency_ms=300, operation_latency_ms={"s3:HeadObject": 0})
    assert timed(s3.head_object, Bucket="bucket-one", Key="k") < 0.25  # instead of latency_ms, not on top
    assert timed(s3.get_object, Bucket="bucket-one", Key="k") >= 0.29
    world.configure(operation_latency_ms={"s3:HeadObject": None})  # merge patch: the entry goes
    assert world.config()["operation_latency_ms"] == {}
    for bad in ({"operation_latency_ms": {"": 5}}, {"operation_latency_ms": {"s3:HeadObject": -1}},
                {"operation_latency_ms": {"s3:HeadObject": "5"}}, {"s3_copy_bytes_per_second": 0}):
        assert post(world, "/_world/config", bad)[0] == 400, bad


def test_copies_take_bytes_over_the_copy_rate(world):
    s3 = bucket(world)
    s3.put_object(Bucket="bucket-one", Key="two-mib", Body=b"a" * (2 * MIB))
    s3.put_object(Bucket="bucket-one", Key="small", Body=b"a")
    world.configure(s3_copy_bytes_per_second=4 * MIB)
    # a 2 MiB copy takes 0.5 s, a 1-byte copy nothing
    assert timed(s3.copy_object, Bucket="bucket-one", Key="c1", CopySource={"Bucket": "bucket-one", "Key": "two-mib"}) >= 0.49
    assert timed(s3.copy_object, Bucket="bucket-one", Key="c2", CopySource={"Bucket": "bucket-one", "Key": "small"}) < 0.2
    # a version id in the copy source is followed; UploadPartCopy takes its range's bytes
    version = s3.head_object(Bucket="bucket-one", Key="two-mib")["VersionId"]
    s3.put_object(Bucket="bucket-one", Key="two-mib", Body=b"")
    assert timed(s3.copy_object, Bucket="bucket-one", Key="c3",
                 CopySource={"Bucket": "bucket-one", "Key": "two-mib", "VersionId": version}) >= 0.49
    upload_id = s3.create_multipart_upload(Bucket="bucket-one", Key="m")["UploadId"]
    took = timed(s3.upload_part_copy, Bucket="bucket-one", Key="m", UploadId=upload_id, PartNumber=1,
                 CopySource={"Bucket": "bucket-one", "Key": "c1"}, CopySourceRange=f"bytes=0-{MIB - 1}")
    assert 0.24 <= took < 0.45
    assert timed(s3.put_object, Bucket="bucket-one", Key="p", Body=b"a" * (2 * MIB)) < 0.3  # not a copy
    world.configure(s3_copy_bytes_per_second=None)
    assert timed(s3.copy_object, Bucket="bucket-one", Key="c4", CopySource={"Bucket": "bucket-one", "Key": "c1"}) < 0.3


def test_copies_from_another_region_take_longer(world):
    here, there = bucket(world, "bucket-here", "eu-west-1"), bucket(world, "bucket-there", "eu-west-2")
    here.put_object(Bucket="bucket-here", Key="k", Body=b"a")
    there.put_object(Bucket="bucket-there", Key="k", Body=b"a")
    world.configure(s3_cross_region_copy_ms=400)
    assert timed(here.copy_object, Bucket="bucket-here", Key="c1", CopySource={"Bucket": "bucket-there", "Key": "k"}) >= 0.39
    assert timed(here.copy_object, Bucket="bucket-here", Key="c2", CopySource={"Bucket": "bucket-here", "Key": "k"}) < 0.3


def test_s3_latency_model_preset(world):
    model = realism.S3_LATENCY_MODEL
    assert model["operation_latency_ms"]["s3:ListObjectsV2"] == 100 and model["s3_copy_bytes_per_second"] == 100_000_000
    s3 = bucket(world)
    s3.put_object(Bucket="bucket-one", Key="k", Body=b"x" * MIB)
    s3.list_objects_v2(Bucket="bucket-one")
    base = min(timed(s3.list_objects_v2, Bucket="bucket-one") for _ in range(3))
    cfg = world.configure(**model)
    assert cfg["operation_latency_ms"] == model["operation_latency_ms"]
    assert timed(s3.list_objects_v2, Bucket="bucket-one") >= base + 0.095
    assert timed(s3.head_object, Bucket="bucket-one", Key="k") >= 0.015
    # CopyObject: 40 ms + 1 MiB at 100 MB/s (10.5 ms)
    assert timed(s3.copy_object, Bucket="bucket-one", Key="c", CopySource={"Bucket": "bucket-one", "Key": "k"}) >= 0.05
    cfg = world.configure(operation_latency_ms=None, s3_copy_bytes_per_second=None)
    assert cfg["operation_latency_ms"] == {} and cfg["s3_copy_bytes_per_second"] is None


# --- replication status ---


def test_replication_status_round_trip_and_cleared_by_a_new_version(world):
    s3 = bucket(world)
    for key in ("a.jpg", "b.jpg", "c.jpg"):
        s3.put_object(Bucket="bucket-one", Key=key, Body=key.encode())
    assert "ReplicationStatus" not in s3.head_object(Bucket="bucket-one", Key="a.jpg")  # moto: none
    assert world.set_replication_status("bucket-one", {"a.jpg": "PENDING", "b.jpg": "FAILED"}) == {
        "a.jpg": "PENDING", "b.jpg": "FAILED"}
    assert post(world, "/_world/s3/replication", {"bucket": "bucket-one", "key": "c.jpg", "status": "REPLICA"}) == (
        200, {"a.jpg": "PENDING", "b.jpg": "FAILED", "c.jpg": "REPLICA"})
    assert s3.head_object(Bucket="bucket-one", Key="a.jpg")["ReplicationStatus"] == "PENDING"
    assert s3.get_object(Bucket="bucket-one", Key="b.jpg")["ReplicationStatus"] == "FAILED"
    world.set_replication_status("bucket-one", {"a.jpg": "COMPLETED"})
    assert s3.head_object(Bucket="bucket-one", Key="a.jpg")["ReplicationStatus"] == "COMPLETED"

    # a new version (PUT, or a copy onto the key) has its own status: none yet
    old = s3.head_object(Bucket="bucket-one", Key="a.jpg")["VersionId"]
    s3.put_object(Bucket="bucket-one", Key="a.jpg", Body=b"new")
    assert "ReplicationStatus" not in s3.head_object(Bucket="bucket-one", Key="a.jpg")
    assert s3.head_object(Bucket="bucket-one", Key="a.jpg", VersionId=old)["ReplicationStatus"] == "COMPLETED"
    s3.copy_object(Bucket="bucket-one", Key="b.jpg", CopySource={"Bucket": "bucket-one", "Key": "c.jpg"})
    assert "ReplicationStatus" not in s3.get_object(Bucket="bucket-one", Key="b.jpg")
    assert world.replication_statuses("bucket-one") == {"c.jpg": "REPLICA"}
    world.set_replication_status("bucket-one", {"c.jpg": None})
    assert world.replication_statuses("bucket-one") == {}

    # refused as a whole: bad status, no such key (a delete marker is none), no such bucket
    s3.delete_object(Bucket="bucket-one", Key="b.jpg")
    for payload in ({"bucket": "bucket-one", "objects": {"c.jpg": "DONE"}},
                    {"bucket": "bucket-one", "objects": {"c.jpg": "PENDING", "nope.jpg": "PENDING"}},
                    {"bucket": "bucket-one", "objects": {"b.jpg": "PENDING"}},
                    {"bucket": "no-such-bucket", "objects": {"c.jpg": "PENDING"}}):
        status, answer = post(world, "/_world/s3/replication", payload)
        assert status == 400 and answer["error"], payload
    assert world.replication_statuses("bucket-one") == {}


@pytest.mark.parametrize("reset", ["/moto-api/reset", "/_world/reset"])
def test_replication_status_cleared_by_resets(world, reset):
    s3 = bucket(world)
    s3.put_object(Bucket="bucket-one", Key="a.jpg", Body=b"a")
    world.set_replication_status("bucket-one", {"a.jpg": "PENDING"})
    assert s3.head_object(Bucket="bucket-one", Key="a.jpg")["ReplicationStatus"] == "PENDING"
    urllib.request.urlopen(urllib.request.Request(world.endpoint + reset, data=b"{}", method="POST")).read()
    s3 = bucket(world)
    s3.put_object(Bucket="bucket-one", Key="a.jpg", Body=b"a")
    assert world.replication_statuses("bucket-one") == {}
    assert "ReplicationStatus" not in s3.head_object(Bucket="bucket-one", Key="a.jpg")


# --- ETags ---


def test_kms_etags_are_not_md5_and_differ_per_stored_version(world):
    data = b"invoice " * 100
    s3_1, s3_2 = bucket(world, "bucket-one", "eu-west-1"), bucket(world, "bucket-two", "eu-west-2")
    kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:aws:kms:eu-west-1:123456789012:key/k1"}
    first = s3_1.put_object(Bucket="bucket-one", Key="k", Body=data, **kms)["ETag"]
    second = s3_1.put_object(Bucket="bucket-one", Key="k", Body=data, **kms)["ETag"]
    other = s3_2.put_object(Bucket="bucket-two", Key="k", Body=data, ServerSideEncryption="aws:kms",
                            SSEKMSKeyId="arn:aws:kms:eu-west-2:123456789012:key/k2")["ETag"]
    assert len({first, second, other, md5_etag(data)}) == 4
    head = s3_1.head_object(Bucket="bucket-one", Key="k")
    assert head["ETag"] == second == s3_1.get_object(Bucket="bucket-one", Key="k")["ETag"]  # stable
    assert head["ServerSideEncryption"] == "aws:kms" and len(head["ETag"].strip('"')) == 32
    versions = s3_1.list_object_versions(Bucket="bucket-one")["Versions"]
    assert {v["ETag"] for v in versions} == {first, second}
    # plain and SSE-S3 objects: the MD5
    assert s3_1.put_object(Bucket="bucket-one", Key="p", Body=data)["ETag"] == md5_etag(data)
    assert s3_1.put_object(Bucket="bucket-one", Key="s", Body=data, ServerSideEncryption="AES256")["ETag"] == md5_etag(data)
    # bucket default encryption with KMS counts as KMS
    s3_2.put_bucket_encryption(Bucket="bucket-two", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k2"}}]})
    assert s3_2.put_object(Bucket="bucket-two", Key="d", Body=data)["ETag"] != md5_etag(data)


def test_multipart_etags_plain_and_kms(world):
    s3 = bucket(world)
    parts = [b"a" * (5 * MIB), b"b" * (5 * MIB), b"c" * MIB]
    done = upload(s3, "bucket-one", "plain.mp4", parts)
    assert done["ETag"] == multipart_etag(parts)  # md5 of the parts' md5s, "-3"
    assert s3.head_object(Bucket="bucket-one", Key="plain.mp4")["ETag"] == multipart_etag(parts)
    kms = upload(s3, "bucket-one", "kms.mp4", parts, ServerSideEncryption="aws:kms", SSEKMSKeyId="k1")["ETag"]
    again = upload(s3, "bucket-one", "kms.mp4", parts, ServerSideEncryption="aws:kms", SSEKMSKeyId="k1")["ETag"]
    assert kms.endswith('-3"') and again.endswith('-3"') and len({kms, again, multipart_etag(parts)}) == 3
    assert s3.head_object(Bucket="bucket-one", Key="kms.mp4")["ETag"] == again


def test_copy_keeps_a_plain_objects_etag(world):
    s3 = bucket(world)
    data = b"\xff\xd8\xff chair"
    etag = s3.put_object(Bucket="bucket-one", Key="src.jpg", Body=data)["ETag"]
    bucket(world, "bucket-two", "eu-west-2")
    copied = s3.copy_object(Bucket="bucket-two", Key="dst.jpg", CopySource={"Bucket": "bucket-one", "Key": "src.jpg"})
    assert copied["CopyObjectResult"]["ETag"] == etag == md5_etag(data)
    assert world.client("s3", "eu-west-2").head_object(Bucket="bucket-two", Key="dst.jpg")["ETag"] == etag
    # to SSE-KMS: a new, non-MD5 ETag; a KMS object copied without SSE: the MD5 again
    kms = s3.copy_object(Bucket="bucket-one", Key="kms.jpg", CopySource={"Bucket": "bucket-one", "Key": "src.jpg"},
                         ServerSideEncryption="aws:kms", SSEKMSKeyId="k1")["CopyObjectResult"]["ETag"]
    assert kms != etag
    plain = s3.copy_object(Bucket="bucket-one", Key="back.jpg", CopySource={"Bucket": "bucket-one", "Key": "kms.jpg"})
    assert plain["CopyObjectResult"]["ETag"] == etag


# --- the seeded world ---


def test_seed_steady_state_s3(world):
    info = world.seed()
    media = info["s3"]
    assert set(media) >= {"kms_keys", "multipart_key", "kms_object_key", "objects"}
    again = world.seed()
    assert again["created"] == [] and again["s3"] == media
    s3_1, s3_2 = world.client("s3", "eu-west-1"), world.client("s3", "eu-west-2")
    for region, arn in media["kms_keys"].items():
        key = world.client("kms", region).describe_key(KeyId="alias/lomash-wood-media")["KeyMetadata"]
        assert key["Arn"] == arn and f":{region}:" in arn
    assert media["kms_keys"]["eu-west-1"] != media["kms_keys"]["eu-west-2"]

    heads = {}
    for s3, name in ((s3_1, MEDIA_BUCKET), (s3_2, MEDIA_REPLICA_BUCKET)):
        listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=name)["Contents"]}
        assert sorted(listed) == media["objects"] == sorted([*MEDIA_OBJECTS, media["multipart_key"], media["kms_object_key"]])
        heads[name] = {k: s3.head_object(Bucket=name, Key=k) for k in listed}
        for key, data in MEDIA_OBJECTS.items():
            assert heads[name][key]["ETag"] == md5_etag(data)
    primary, replica = heads[MEDIA_BUCKET], heads[MEDIA_REPLICA_BUCKET]
    mp = media["multipart_key"]
    assert primary[mp]["ETag"] == replica[mp]["ETag"] and primary[mp]["ETag"].endswith('-3"')
    assert primary[mp]["ContentLength"] == 11 * MIB
    kms_key = media["kms_object_key"]
    assert primary[kms_key]["ETag"] != replica[kms_key]["ETag"]
    assert body(s3_1, MEDIA_BUCKET, kms_key) == body(s3_2, MEDIA_REPLICA_BUCKET, kms_key)
    assert md5_etag(body(s3_1, MEDIA_BUCKET, kms_key)) not in (primary[kms_key]["ETag"], replica[kms_key]["ETag"])
    assert primary[kms_key]["SSEKMSKeyId"] == media["kms_keys"]["eu-west-1"]
    assert replica[kms_key]["SSEKMSKeyId"] == media["kms_keys"]["eu-west-2"]
    assert {h["ReplicationStatus"] for h in primary.values()} == {"COMPLETED"}
    assert {h["ReplicationStatus"] for h in replica.values()} == {"REPLICA"}
    assert world.replication_statuses(MEDIA_BUCKET) == {k: "COMPLETED" for k in media["objects"]}
    assert world.replication_statuses(MEDIA_REPLICA_BUCKET) == {k: "REPLICA" for k in media["objects"]}

    now = dt.datetime.now(dt.timezone.utc)
    dims = [{"Name": "SourceBucket", "Value": MEDIA_BUCKET}, {"Name": "DestinationBucket", "Value": MEDIA_REPLICA_BUCKET},
            {"Name": "RuleId", "Value": "crr-to-eu-west-2"}]
    points = world.client("cloudwatch", "eu-west-1").get_metric_statistics(
        Namespace="AWS/S3", MetricName="ReplicationLatency", Dimensions=dims, StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1), Period=60, Statistics=["Maximum"])["Datapoints"]
    assert [p["Maximum"] for p in points] == [12.0]  # once, not again on the re-seed


def test_outage_writes_manifest_matches_the_buckets(world, tmp_path):
    info = world.seed(outage_writes=True)
    manifest = info["outage_writes"]
    src, dst = world.client("s3", "eu-west-2"), world.client("s3", "eu-west-1")
    assert (manifest["source_bucket"], manifest["source_region"]) == (MEDIA_REPLICA_BUCKET, "eu-west-2")
    assert (manifest["destination_bucket"], manifest["destination_region"]) == (MEDIA_BUCKET, "eu-west-1")
    written_after = dt.datetime.fromisoformat(manifest["written_after"])
    assert written_after.tzinfo is not None and manifest["written_after"].endswith("Z")

    def current(s3, name):
        return {o["Key"]: o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name)
                for o in page.get("Contents", [])}

    in_src, in_dst = current(src, MEDIA_REPLICA_BUCKET), current(dst, MEDIA_BUCKET)
    assert len(manifest["copy"]) == 8 and manifest["copy"] == sorted(manifest["copy"])
    for key in manifest["copy"]:  # only in the replica, or other bytes there; written after written_after
        assert key in in_src, key
        assert key not in in_dst or body(src, MEDIA_REPLICA_BUCKET, key) != body(dst, MEDIA_BUCKET, key), key
        assert in_src[key]["LastModified"] >= written_after, key
        assert "ReplicationStatus" not in src.head_object(Bucket=MEDIA_REPLICA_BUCKET, Key=key)
    assert sum(k not in in_dst for k in manifest["copy"]) == 6  # 3 uploads, multipart, webp, KMS
    for key in manifest["unchanged"]:
        assert key in in_src and key in in_dst, key
        assert body(src, MEDIA_REPLICA_BUCKET, key) == body(dst, MEDIA_BUCKET, key), key
        assert src.head_object(Bucket=MEDIA_REPLICA_BUCKET, Key=key)["ReplicationStatus"] == "REPLICA"
        assert in_src[key]["LastModified"] < written_after and in_dst[key]["LastModified"] < written_after
    assert len(manifest["unchanged"]) == 5
    assert src.head_object(Bucket=MEDIA_REPLICA_BUCKET, Key=info["s3"]["kms_object_key"])["ETag"] != \
        dst.head_object(Bucket=MEDIA_BUCKET, Key=info["s3"]["kms_object_key"])["ETag"]  # unchanged, yet other ETags
    # every key of either bucket is accounted for
    assert set(in_src) == set(manifest["copy"]) | set(manifest["unchanged"])
    assert set(in_dst) == (set(in_src) - {k for k in manifest["copy"] if k not in in_dst}) | set(manifest["delete"]) \
        | set(manifest["pending"]) | set(manifest["failed"])

    [deleted] = manifest["delete"]
    versions = src.list_object_versions(Bucket=MEDIA_REPLICA_BUCKET, Prefix=deleted)
    assert [m["IsLatest"] for m in versions["DeleteMarkers"] if m["Key"] == deleted] == [True]
    assert deleted in in_dst and deleted not in in_src
    for key in manifest["pending"] + manifest["failed"]:
        assert key in in_dst and key not in in_src
    statuses = world.replication_statuses(MEDIA_BUCKET)
    assert [k for k, s in statuses.items() if s == "PENDING"] == manifest["pending"] and len(manifest["pending"]) == 2
    assert [k for k, s in statuses.items() if s == "FAILED"] == manifest["failed"] and len(manifest["failed"]) == 1

    same = manifest["same_size_changed_key"]
    assert same in manifest["copy"] and in_src[same]["Size"] == in_dst[same]["Size"]
    assert in_src[same]["ETag"] != in_dst[same]["ETag"]
    resized = manifest["resized_changed_key"]
    assert resized in manifest["copy"] and in_src[resized]["Size"] != in_dst[resized]["Size"]
    tagged = src.get_object(Bucket=MEDIA_REPLICA_BUCKET, Key=manifest["tagged_key"])
    assert tagged["ContentType"] == manifest["content_type"] == "image/webp"
    assert tagged["Metadata"] == manifest["metadata"] == {"photographer": "lomash", "sku": "LW-1234"}
    assert tagged["CacheControl"] == manifest["cache_control"]
    tags = src.get_object_tagging(Bucket=MEDIA_REPLICA_BUCKET, Key=manifest["tagged_key"])["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == manifest["tags"] == {"collection": "winter", "retention": "long"}
    kms_object = src.head_object(Bucket=MEDIA_REPLICA_BUCKET, Key=manifest["kms_key"])
    assert kms_object["ServerSideEncryption"] == "aws:kms"
    assert kms_object["SSEKMSKeyId"] == manifest["kms_key_arn"] == info["s3"]["kms_keys"]["eu-west-2"]
    multipart = src.head_object(Bucket=MEDIA_REPLICA_BUCKET, Key=manifest["multipart_key"])
    assert multipart["ETag"].endswith('-3"') and multipart["ContentLength"] == 11 * MIB
    assert manifest["multipart_key"] != info["s3"]["multipart_key"]

    # idempotent: again (and through the CLI, with the steady seed first) nothing new is written
    def version_count():
        return [len(s3.list_object_versions(Bucket=b).get("Versions", [])) for s3, b in
                ((src, MEDIA_REPLICA_BUCKET), (dst, MEDIA_BUCKET))]

    before = version_count()
    assert world.outage_writes() == manifest
    out = tmp_path / "world.json"
    subprocess.run([sys.executable, "-m", "tests.world", "seed", "--endpoint", world.endpoint, "--outage-writes",
                    "--out", str(out)], cwd=REPO, check=True, timeout=120)
    again = json.loads(out.read_text())
    assert again["outage_writes"] == manifest and again["created"] == []
    assert version_count() == before
    assert world.replication_statuses(MEDIA_REPLICA_BUCKET) == {k: "REPLICA" for k in manifest["unchanged"]}


# --- listings ---


def test_listings_page_like_s3(world):
    s3 = bucket(world)
    keys = ["a/1", "a/2", "a/b/3", "a-x", "b/1", "c", "d/gone", "e"]
    for key in keys:
        s3.put_object(Bucket="bucket-one", Key=key, Body=b"1")
    s3.put_object(Bucket="bucket-one", Key="c", Body=b"22")  # two versions, in the same millisecond
    s3.delete_object(Bucket="bucket-one", Key="d/gone")  # a delete marker is current
    s3.delete_object(Bucket="bucket-one", Key="e")

    def listed(**kwargs):
        pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="bucket-one", **kwargs))
        return ([o["Key"] for p in pages for o in p.get("Contents", [])],
                [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])], len(pages))

    live = sorted(set(keys) - {"d/gone", "e"})
    assert listed(PaginationConfig={"PageSize": 2}) == (live, [], 3)
    assert listed(Prefix="a/", PaginationConfig={"PageSize": 1}) == (["a/1", "a/2", "a/b/3"], [], 3)
    # no CommonPrefix for d/: its only key is deleted (as S3)
    assert listed(Delimiter="/", PaginationConfig={"PageSize": 2}) == (["a-x", "c"], ["a/", "b/"], 2)
    assert listed(Prefix="a/", Delimiter="/") == (["a/1", "a/2"], ["a/b/"], 1)
    assert listed(StartAfter="b/1")[0] == ["c"]

    versions, markers, pages = [], [], 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket="bucket-one", PaginationConfig={"PageSize": 3}):
        versions += page.get("Versions", [])
        markers += page.get("DeleteMarkers", [])
        pages += 1
    assert pages >= 4
    assert len(versions) == len(keys) + 1 and len({v["VersionId"] for v in versions}) == len(versions)
    assert [(m["Key"], m["IsLatest"]) for m in markers] == [("d/gone", True), ("e", True)]
    c_versions = [v for v in versions if v["Key"] == "c"]
    assert [(v["Size"], v["IsLatest"]) for v in c_versions] == [(2, True), (1, False)]  # newest first
    assert all(v["IsLatest"] for v in versions if v["Key"] not in ("c", "d/gone", "e"))
    assert not any(v["IsLatest"] for v in versions if v["Key"] in ("d/gone", "e"))
    only = s3.list_object_versions(Bucket="bucket-one", Prefix="a/", Delimiter="/")
    assert [v["Key"] for v in only["Versions"]] == ["a/1", "a/2"] and only["CommonPrefixes"] == [{"Prefix": "a/b/"}]


# --- bulk fill ---


def test_fill_counts_contents_and_idempotence(world):
    spec = dict(count=2000, different=200, prefix="bench/", min_bytes=100, max_bytes=3000, seed=7)
    buckets = [("bench-src", "eu-west-1"), {"name": "bench-dst", "region": "eu-west-2"}]
    first = world.fill_s3(buckets, **spec)
    assert first["count"] == 2000 and first["different_count"] == 200
    assert first["missing_count"] == 100 and first["changed_count"] == 100
    assert first["written"] == {"bench-src": 2000, "bench-dst": 1900}
    src, dst = world.client("s3", "eu-west-1"), world.client("s3", "eu-west-2")
    assert src.get_bucket_location(Bucket="bench-src")["LocationConstraint"] == "eu-west-1"
    assert dst.get_bucket_location(Bucket="bench-dst")["LocationConstraint"] == "eu-west-2"
    assert dst.get_bucket_versioning(Bucket="bench-dst")["Status"] == "Enabled"

    def listing(s3, name):
        return {o["Key"]: o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix="bench/")
                for o in page.get("Contents", [])}

    a, b = listing(src, "bench-src"), listing(dst, "bench-dst")
    assert len(a) == 2000 and len(b) == 1900 and set(b) <= set(a)
    assert sum(o["Size"] for o in a.values()) == first["bytes"]
    assert all(100 <= o["Size"] <= 3000 for o in a.values())
    changed = [k for k in b if b[k]["ETag"] != a[k]["ETag"]]
    assert len(changed) == 100 and all(a[k]["Size"] == b[k]["Size"] for k in changed)
    assert sorted(set(changed) | (set(a) - set(b)))[:10] == first["different"]
    some = first["different"][0]
    data = body(src, "bench-src", some)
    assert a[some]["ETag"] == md5_etag(data)  # the listed ETags are the bytes' MD5s

    second = world.fill_s3(buckets, **spec)  # same arguments: nothing written, same answer
    assert second["written"] == {"bench-src": 0, "bench-dst": 0}
    assert {k: v for k, v in second.items() if k not in ("written", "seconds")} == \
        {k: v for k, v in first.items() if k not in ("written", "seconds")}
    assert len(src.list_object_versions(Bucket="bench-src", Prefix="bench/", MaxKeys=1000)["Versions"]) == 1000
    assert body(src, "bench-src", some) == data
    other = world.fill_s3(buckets, **{**spec, "seed": 8, "count": 10, "different": 0})  # other seed: other bytes
    assert other["written"] == {"bench-src": 10, "bench-dst": 10}

    for bad in ({"buckets": [{"name": "bench-src"}], "count": 10, "different": 1},  # different needs 2 buckets
                {"buckets": [{"name": "x-src"}, {"name": "x-dst"}], "count": 10, "different": 11},
                {"buckets": [{"name": "x-src"}, {"name": "x-dst"}], "count": 100000, "max_bytes": 102400}):  # memory
        assert post(world, "/_world/s3/fill", bad)[0] == 400, bad


def test_fill_100k_small_objects_takes_seconds(world):
    started = time.monotonic()
    result = world.fill_s3([("bench-src", "eu-west-1"), ("bench-dst", "eu-west-2")], count=100_000,
                           different=1000, min_bytes=64, max_bytes=256)
    took = time.monotonic() - started
    assert result["written"] == {"bench-src": 100_000, "bench-dst": 99_500}
    assert took < 60, took
    # A page's cost does not grow with the bucket (the world runs in this process: its backend
    # directly). moto alone: 0.3 s for each ListObjectsV2 page here, and ListObjectVersions
    # deep-copies every version for each page (~15 s). HTTP adds moto's serializer, ~0.4 s a page.
    backend = realism._s3()
    started = time.monotonic()
    token, pages = None, 0
    while True:
        page, truncated, token = backend.list_objects_v2(backend.buckets["bench-dst"], "", None, token, None, 1000)
        pages += 1
        if not truncated:
            break
    assert pages == 100 and time.monotonic() - started < 5
    dst = world.client("s3", "eu-west-2")
    started = time.monotonic()
    page = dst.list_object_versions(Bucket="bench-dst", KeyMarker="bench/obj-050000.bin", MaxKeys=1000)
    assert len(page["Versions"]) == 1000 and page["IsTruncated"] and page["Versions"][0]["Key"] > "bench/obj-050000.bin"
    assert time.monotonic() - started < 3
    first = dst.list_objects_v2(Bucket="bench-dst", MaxKeys=1000)
    assert first["KeyCount"] == 1000 and first["IsTruncated"]


def test_replication_rules_read_back_as_put(world):
    """moto answers every rule with an empty filter and DeleteMarkerReplication Disabled; the world as put."""
    s3 = world.client("s3", "eu-west-1")
    for bucket, region in (("lw-rr-src", "eu-west-1"), ("lw-rr-dst", "eu-west-2")):
        world.client("s3", region).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        world.client("s3", region).put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rule = {"ID": "r", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": "media/"},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "Destination": {"Bucket": "arn:aws:s3:::lw-rr-dst", "StorageClass": "STANDARD",
                            "EncryptionConfiguration": {"ReplicaKmsKeyID": "arn:aws:kms:eu-west-2:123456789012:key/k"}}}
    s3.put_bucket_replication(Bucket="lw-rr-src", ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r",
                                                                          "Rules": [rule]})
    got = s3.get_bucket_replication(Bucket="lw-rr-src")["ReplicationConfiguration"]["Rules"]
    assert got == [rule]


def test_listing_xml_reads_back_like_the_objects(world):
    """The world writes ListObjectsV2's XML itself (moto's serializer is slow): keys that need escaping,
    ETags, sizes, times, checksums, folders and pages read back through botocore as the objects are."""
    s3 = bucket(world, "bucket-list")
    keys = ["a&b <c>.txt", "dir/one.txt", "dir/two \"q\".txt", "z/ünïcødé €.txt", "plain"]
    for n, key in enumerate(keys):
        s3.put_object(Bucket="bucket-list", Key=key, Body=b"x" * (n + 1), ChecksumAlgorithm="SHA256")
    heads = {k: s3.head_object(Bucket="bucket-list", Key=k) for k in keys}
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="bucket-list", PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3 and pages[0]["IsTruncated"] and pages[0]["KeyCount"] == 2
    listed = [o for p in pages for o in p["Contents"]]
    assert [o["Key"] for o in listed] == sorted(keys)
    for o in listed:
        head = heads[o["Key"]]
        assert (o["ETag"], o["Size"], o["LastModified"]) == (head["ETag"], head["ContentLength"], head["LastModified"])
        assert o["ChecksumAlgorithm"] == ["SHA256"] and o["StorageClass"] == "STANDARD"
    folders = s3.list_objects_v2(Bucket="bucket-list", Delimiter="/")
    assert [p["Prefix"] for p in folders["CommonPrefixes"]] == ["dir/", "z/"]
    assert sorted(o["Key"] for o in folders["Contents"]) == ["a&b <c>.txt", "plain"]
    after = s3.list_objects_v2(Bucket="bucket-list", Prefix="dir/", StartAfter="dir/one.txt")
    assert [o["Key"] for o in after["Contents"]] == ['dir/two "q".txt'] and after["StartAfter"] == "dir/one.txt"
    assert s3.list_objects_v2(Bucket="bucket-list", Prefix="none/")["KeyCount"] == 0
