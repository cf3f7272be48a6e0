"""s3_crr_sync against the embedded AWS world, through the ansible CLI (four-step idiom).

Each test makes its own pair of versioned buckets (source in eu-west-2, destination in eu-west-1,
as in a failback) with objects written through boto3, so each case says exactly what it holds.
"""

from __future__ import annotations

import collections
import hashlib
import uuid

import pytest

from .runner import mutating, run_module

MODULE = "s3_crr_sync"
SRC_REGION, DST_REGION = "eu-west-2", "eu-west-1"
MIB = 1024 * 1024


def body(label, size=64):
    """Deterministic bytes of the given size (different labels give different bytes)."""
    seed = hashlib.sha256(label.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class Pair:
    """Two fresh versioned buckets and a KMS key in each region; client(service, region) makes the clients
    (the world's, or LocalStack's), env points the module at the same endpoint."""

    def __init__(self, client, env=None):
        self.env = env
        tag = uuid.uuid4().hex[:8]
        self.src, self.dst = "lw-src-%s" % tag, "lw-dst-%s" % tag
        self.s3 = {SRC_REGION: client("s3", SRC_REGION), DST_REGION: client("s3", DST_REGION)}
        for bucket, region in ((self.src, SRC_REGION), (self.dst, DST_REGION)):
            self.s3[region].create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
            self.s3[region].put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.kms = {r: client("kms", r).create_key(Description="lw test %s" % r)["KeyMetadata"]["Arn"]
                    for r in (SRC_REGION, DST_REGION)}

    def put(self, side, key, data, **extra):
        bucket, region = (self.src, SRC_REGION) if side == "src" else (self.dst, DST_REGION)
        return self.s3[region].put_object(Bucket=bucket, Key=key, Body=data, **extra)

    def multipart(self, side, key, parts):
        bucket, region = (self.src, SRC_REGION) if side == "src" else (self.dst, DST_REGION)
        s3 = self.s3[region]
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        done = [dict(PartNumber=n, ETag=s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n,
                                                       Body=data)["ETag"]) for n, data in enumerate(parts, 1)]
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done})

    def head(self, side, key):
        bucket, region = (self.src, SRC_REGION) if side == "src" else (self.dst, DST_REGION)
        return self.s3[region].head_object(Bucket=bucket, Key=key)

    def keys(self, side):
        bucket, region = (self.src, SRC_REGION) if side == "src" else (self.dst, DST_REGION)
        out = self.s3[region].list_objects_v2(Bucket=bucket).get("Contents", [])
        return {o["Key"]: o["ETag"] for o in out}

    def read(self, key):
        return self.s3[DST_REGION].get_object(Bucket=self.dst, Key=key)["Body"].read()

    def args(self, **extra):
        return dict(dict(mode="sync", source=dict(bucket=self.src, region=SRC_REGION),
                         destination=dict(bucket=self.dst, region=DST_REGION)), **extra)


@pytest.fixture
def pair(world):
    pair = Pair(world.client)
    pair.world = world
    return pair


def writes(world):
    return mutating(world.calls())


def sync(pair, check=False, diff=False, **extra):
    if getattr(pair, "world", None):
        pair.world.reset_calls()
    return run_module(MODULE, pair.args(**extra), check=check, diff=diff, env=pair.env)


def test_sync_four_steps_copies_what_is_missing_or_different_and_nothing_twice(pair, world):
    for key in ("same/a.txt", "same/b.txt"):
        pair.put("src", key, body(key))
        pair.put("dst", key, body(key))
    pair.put("src", "new/c.txt", body("c", 300))
    pair.put("dst", "changed/size.txt", body("old", 10))
    pair.put("src", "changed/size.txt", body("new", 20))
    pair.put("dst", "changed/same-size.txt", body("old", 32))
    pair.put("src", "changed/same-size.txt", body("new", 32))
    pair.put("dst", "only-in-destination.txt", b"kept")

    check = sync(pair, check=True, diff=True)
    assert not check["failed"], check["msg"]
    assert check["changed"] is True
    assert [(a["name"], a["reason"]) for a in check["plan"]] == [
        # Equal sizes, and the source's ETag is its MD5: another ETag is other content.
        ("changed/same-size.txt", "etag"), ("changed/size.txt", "size"), ("new/c.txt", "missing")]
    assert check["summary"]["copy"]["count"] == 3 and check["summary"]["copy"]["bytes"] == 32 + 20 + 300
    assert check["summary"]["unchanged"] == 2
    assert writes(world) == {}, "check mode wrote"
    assert "new/c.txt" in check["_stdout"]  # --diff shows the objects

    done = sync(pair)
    assert not done["failed"], done["msg"]
    assert done["changed"] is True and done["summary"]["copy"]["count"] == 3
    assert writes(world) == {"s3:CopyObject": 3}
    for key in ("new/c.txt", "changed/size.txt", "changed/same-size.txt"):
        assert pair.read(key) == pair.s3[SRC_REGION].get_object(Bucket=pair.src, Key=key)["Body"].read()
    assert pair.read("only-in-destination.txt") == b"kept"
    # One list call per bucket (fewer than 1,000 keys), one HeadObject per object to copy (the source's;
    # the destination's is not needed when the source's ETag is an MD5).
    assert done["api_calls"]["ListObjectsV2"] == 2 and done["api_calls"]["HeadObject"] == 3

    again = sync(pair, check=True)
    assert again["changed"] is False and again["plan"] == [] and again["summary"]["unchanged"] == 5
    rerun = sync(pair)
    assert rerun["changed"] is False and writes(world) == {}
    assert "HeadObject" not in rerun["api_calls"]  # equal ETags settle it from the listing


def test_metadata_tags_content_type_and_encryption_are_kept(pair, world):
    pair.put("src", "tagged.webp", b"RIFF....WEBP", ContentType="image/webp", CacheControl="max-age=86400",
             Metadata={"photographer": "lomash", "sku": "LW-1234"}, Tagging="collection=winter&retention=long",
             ServerSideEncryption="AES256")
    pair.put("src", "private/invoice.pdf", b"%PDF invoice", ServerSideEncryption="aws:kms",
             SSEKMSKeyId=pair.kms[SRC_REGION], Metadata={"customer": "c-42"})

    done = sync(pair, kms_key_id=pair.kms[DST_REGION])
    assert not done["failed"], done["msg"]
    head = pair.head("dst", "tagged.webp")
    assert head["ContentType"] == "image/webp" and head["CacheControl"] == "max-age=86400"
    assert head["Metadata"] == {"photographer": "lomash", "sku": "LW-1234"}  # a plain copy adds nothing
    assert head["ServerSideEncryption"] == "AES256"
    tags = pair.s3[DST_REGION].get_object_tagging(Bucket=pair.dst, Key="tagged.webp")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"collection": "winter", "retention": "long"}

    kms = pair.head("dst", "private/invoice.pdf")
    assert kms["ServerSideEncryption"] == "aws:kms" and kms["SSEKMSKeyId"] == pair.kms[DST_REGION]
    src_etag = pair.head("src", "private/invoice.pdf")["ETag"].strip('"')
    assert kms["Metadata"] == {"customer": "c-42", "lomashwood-source-etag": src_etag}
    assert pair.read("private/invoice.pdf") == b"%PDF invoice"

    rerun = sync(pair, kms_key_id=pair.kms[DST_REGION])
    assert rerun["changed"] is False and writes(world) == {}


def test_kms_objects_without_a_destination_key_fail_by_key_while_the_rest_are_copied(pair, world):
    pair.put("src", "plain.txt", b"plain")
    pair.put("src", "private/a.pdf", b"secret", ServerSideEncryption="aws:kms", SSEKMSKeyId=pair.kms[SRC_REGION])
    rehearsal = sync(pair, check=True)  # the rehearsal refuses, naming the object, and writes nothing
    assert rehearsal["failed"] and "kms_key_id" in rehearsal["msg"] and "private/a.pdf" in rehearsal["msg"]
    assert writes(world) == {}
    wrong = sync(pair, kms_key_id=pair.kms[SRC_REGION])
    assert wrong["failed"] and "is a key of eu-west-2, not of the destination's region eu-west-1" in wrong["msg"]
    assert writes(world) == {}

    res = sync(pair)  # a real run copies what it can and fails naming the rest
    assert res["failed"] and "private/a.pdf" in res["msg"] and "kms_key_id" in res["msg"]
    assert list(res["summary"]["failed"]["errors"]) == ["private/a.pdf"]
    assert set(pair.keys("dst")) == {"plain.txt"}
    assert writes(world) == {"s3:CopyObject": 1}
    done = sync(pair, kms_key_id=pair.kms[DST_REGION])  # the rerun with the key copies only what is left
    assert not done["failed"], done["msg"]
    assert [a["name"] for a in done["plan"]] == ["private/a.pdf"] and writes(world) == {"s3:CopyObject": 1}


def test_multipart_objects_are_compared_right(pair, world):
    parts = [body("p1", 5 * MIB), body("p2", 5 * MIB), body("p3", MIB)]
    pair.multipart("src", "video/same.mp4", parts)
    pair.multipart("dst", "video/same.mp4", parts)  # the same parts: the same "-3" ETag
    pair.multipart("src", "video/new.mp4", parts)
    assert pair.keys("src")["video/same.mp4"].endswith('-3"')

    done = sync(pair)
    assert not done["failed"], done["msg"]
    assert [a["name"] for a in done["plan"]] == ["video/new.mp4"]
    assert pair.head("dst", "video/new.mp4")["Metadata"]["lomashwood-source-etag"] == \
        pair.head("src", "video/new.mp4")["ETag"].strip('"')
    # The copy is one part, so its ETag is not the source's: what the copy recorded settles it.
    rerun = sync(pair)
    assert rerun["changed"] is False and writes(world) == {}
    # The source changes, same size: copied again.
    pair.multipart("src", "video/new.mp4", [body("p1", 5 * MIB), body("changed", 5 * MIB), body("p3", MIB)])
    changed = sync(pair)
    assert [(a["name"], a["reason"]) for a in changed["plan"]] == [("video/new.mp4", "changed")]


def test_large_objects_are_copied_in_parts(pair, world):
    data = body("big", 12 * MIB)
    pair.put("src", "big.bin", data, ContentType="application/octet-stream", Metadata={"k": "v"},
             Tagging="size=big")
    done = sync(pair, multipart_threshold=5 * MIB, part_size=5 * MIB)
    assert not done["failed"], done["msg"]
    assert done["plan"][0]["action"] == "multipart_copy"
    assert done["api_calls"]["UploadPartCopy"] == 3 and done["api_calls"]["CompleteMultipartUpload"] == 1
    assert pair.read("big.bin") == data
    head = pair.head("dst", "big.bin")
    assert head["ContentType"] == "application/octet-stream" and head["Metadata"]["k"] == "v"
    tags = pair.s3[DST_REGION].get_object_tagging(Bucket=pair.dst, Key="big.bin")["TagSet"]
    assert tags == [{"Key": "size", "Value": "big"}]
    assert sync(pair, multipart_threshold=5 * MIB, part_size=5 * MIB)["changed"] is False


def test_delete_off_and_on(pair, world):
    for key in ("keep.txt", "gone.txt"):
        pair.put("dst", key, body(key))
        pair.put("src", key, body(key))
    pair.s3[SRC_REGION].delete_object(Bucket=pair.src, Key="gone.txt")  # a delete marker in the source
    pair.put("dst", "never-in-source.txt", b"x")

    off = sync(pair)
    assert off["changed"] is False and "gone.txt" in pair.keys("dst")
    check = sync(pair, check=True, delete=True)
    assert [(a["name"], a["action"]) for a in check["plan"]] == [("gone.txt", "delete")]
    assert writes(world) == {} and "gone.txt" in pair.keys("dst")
    on = sync(pair, delete=True)
    assert not on["failed"], on["msg"]
    assert set(pair.keys("dst")) == {"keep.txt", "never-in-source.txt"}
    assert writes(world) == {"s3:DeleteObjects": 1}
    assert sync(pair, delete=True)["changed"] is False


def test_modified_since_and_prefix(pair, world):
    pair.put("src", "old/a.txt", b"a")
    since = pair.head("src", "old/a.txt")["LastModified"]
    import time
    time.sleep(1.1)
    pair.put("src", "new/b.txt", b"b")
    pair.put("src", "other/c.txt", b"c")
    res = sync(pair, check=True, modified_since=(since.isoformat()))
    assert [a["name"] for a in res["plan"]] == ["new/b.txt", "other/c.txt"] or \
        [a["name"] for a in res["plan"]] == ["new/b.txt", "old/a.txt", "other/c.txt"]
    res = sync(pair, check=True, modified_since=str(since.timestamp() + 0.5), prefix="new/")
    assert [a["name"] for a in res["plan"]] == ["new/b.txt"]


def test_one_failed_copy_is_named_and_the_rest_are_copied(pair, world):
    for n in range(5):
        pair.put("src", "k%d.txt" % n, body(str(n)))
    world.fault("s3:CopyObject", code="AccessDenied", status=403, count=1)
    res = sync(pair, max_concurrency=1)
    assert res["failed"] is True
    failed = [r for r in res["results"] if r["error"]]
    assert len(failed) == 1 and failed[0]["name"] in res["msg"] and "AccessDenied" in failed[0]["error"]
    assert res["summary"]["failed"]["count"] == 1 and res["summary"]["copy"]["count"] == 4
    assert len(pair.keys("dst")) == 4
    again = sync(pair)
    assert not again["failed"] and [a["name"] for a in again["plan"]] == [failed[0]["name"]]


def test_a_lost_answer_to_a_copy_is_one_copy_in_the_summary(pair, world):
    """A CopyObject served by S3 whose answer was lost (the SDK tried it again): the versioned destination
    holds a second, equal version of that key (harmless: same bytes, and it is the current one), the call log
    shows the repeat, but the summary counts the object once, and a rerun finds nothing to copy."""
    for n in range(3):
        pair.put("src", "k%d.txt" % n, body(str(n)))
    world.fault("s3:CopyObject", lost=True)
    res = sync(pair, max_concurrency=1)
    assert not res["failed"], res["msg"]
    assert world.calls()["injected"] == {"s3:CopyObject": {"lost": 1}}
    assert res["api_calls"]["CopyObject"] == 4 and res["retries"] == {"CopyObject": 1}
    assert res["summary"]["copy"]["count"] == 3 and len([r for r in res["results"] if r["changed"]]) == 3
    versions = pair.s3[DST_REGION].list_object_versions(Bucket=pair.dst)["Versions"]
    assert sorted(collections.Counter(v["Key"] for v in versions).values()) == [1, 1, 2]  # the lost one: twice
    for n in range(3):
        assert pair.read("k%d.txt" % n) == body(str(n))
    assert sync(pair)["changed"] is False and writes(world) == {}


def test_a_copy_whose_answers_are_lost_more_times_than_botocore_tries_is_still_copied(pair, world):
    """Four answers in a row lost (the connection closed without one): botocore gives up after its own
    3 attempts with ConnectionClosedError; the module's retry policy tries the call again, so the object is
    copied and the run succeeds (before, the object failed by key: CI's round trip under faults)."""
    pair.put("src", "k.txt", body("k"))
    world.fault("s3:CopyObject", lost=True, count=4)
    res = sync(pair, max_concurrency=1)
    assert not res["failed"], res["msg"]
    assert world.calls()["injected"] == {"s3:CopyObject": {"lost": 4}}
    assert res["api_calls"]["CopyObject"] == 5 and res["retries"] == {"CopyObject": 4}
    assert pair.read("k.txt") == body("k")


@pytest.mark.parametrize("change, expected", [
    (dict(destination=dict(bucket="lw-no-such-bucket", region=DST_REGION)), "destination.bucket: no bucket 'lw-no-such-bucket'"),
    (dict(source=dict(bucket="SRC", region=DST_REGION)), "source.region: bucket"),
    (dict(destination=dict(bucket="SRC", region=SRC_REGION)), "is the source bucket"),
    (dict(prefix="/uploads"), "prefix: '/uploads' starts with '/'"),
    (dict(modified_since="yesterday"), "modified_since: 'yesterday' is not a time"),
    (dict(modified_since="2999-01-01T00:00:00Z"), "is in the future"),
])
def test_bad_inputs_are_named_and_nothing_is_copied(pair, world, change, expected):
    pair.put("src", "a.txt", b"a")
    args = pair.args()
    for option, value in change.items():
        args[option] = {k: (pair.src if v == "SRC" else v) for k, v in value.items()} if isinstance(value, dict) else value
    world.reset_calls()
    res = run_module(MODULE, args)
    assert res["failed"] and expected in res["msg"], res["msg"]
    assert writes(world) == {}


def test_replication_rule_both_directions(pair, world):
    role = world.info["s3"]["replication_role_arn"]
    args = dict(mode="replication", source=dict(bucket=pair.src, region=SRC_REGION),
                destination=dict(bucket=pair.dst, region=DST_REGION),
                replication=dict(rule_id="crr-to-eu-west-1", role=role.rsplit("/", 1)[-1]))
    world.reset_calls()
    check = run_module(MODULE, args, check=True, diff=True)
    assert check["changed"] is True and check["results"][0]["before"] is None
    assert writes(world) == {}
    done = run_module(MODULE, args)
    assert not done["failed"], done["msg"]
    config = pair.s3[SRC_REGION].get_bucket_replication(Bucket=pair.src)["ReplicationConfiguration"]
    assert config["Role"] == role and config["Rules"][0]["Destination"]["Bucket"] == "arn:aws:s3:::" + pair.dst
    assert config["Rules"][0]["Status"] == "Enabled"
    world.reset_calls()
    assert run_module(MODULE, args)["changed"] is False and writes(world) == {}
    status = run_module(MODULE, dict(mode="status", source=args["source"]))
    assert status["status"]["rule"]["id"] == "crr-to-eu-west-1" and status["status"]["direction"] == "eu-west-2 -> eu-west-1"
    disabled = run_module(MODULE, dict(args, replication=dict(args["replication"], status="disabled")))
    assert disabled["changed"] is True and disabled["rule"]["status"] == "Disabled"
    missing_role = run_module(MODULE, dict(args, replication=dict(rule_id="x", role="no-such-role")))
    assert missing_role["failed"] and "replication.role: no IAM role 'no-such-role'" in missing_role["msg"]


# ---- the seeded media buckets after an eu-west-1 outage (tests/world/seed.py outage_writes) --------

@pytest.fixture
def outage(world):
    manifest = world.outage_writes()
    world.reset_calls()
    return manifest


def media_args(world, manifest, **extra):
    return dict(dict(mode="sync", source=dict(bucket=manifest["source_bucket"], region=manifest["source_region"]),
                     destination=dict(bucket=manifest["destination_bucket"], region=manifest["destination_region"]),
                     kms_key_id=world.info["s3"]["kms_keys"][manifest["destination_region"]]), **extra)


def test_failback_copy_back_of_the_outage_writes(world, outage):
    args = media_args(world, outage, delete=True)
    check = run_module(MODULE, args, check=True)
    assert not check["failed"], check["msg"]
    assert sorted(a["name"] for a in check["plan"] if a["action"] == "copy") == outage["copy"]
    assert [a["name"] for a in check["plan"] if a["action"] == "delete"] == outage["delete"]
    assert not set(outage["unchanged"]) & {a["name"] for a in check["plan"]}
    # The seeded KMS object is a CRR replica in eu-west-2: not copied back.
    assert outage["unchanged"] and world.info["s3"]["kms_object_key"] in check["summary"]["skipped_replicas"]["first_keys"]
    assert writes(world) == {}

    done = run_module(MODULE, args)
    assert not done["failed"], done["msg"]
    assert done["summary"]["copy"]["count"] == len(outage["copy"]) and done["summary"]["delete"]["count"] == 1
    primary = world.client("s3", outage["destination_region"])
    bucket = outage["destination_bucket"]
    head = primary.head_object(Bucket=bucket, Key=outage["tagged_key"])
    assert head["ContentType"] == outage["content_type"] and head["Metadata"] == outage["metadata"]
    tags = primary.get_object_tagging(Bucket=bucket, Key=outage["tagged_key"])["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == outage["tags"]
    kms = primary.head_object(Bucket=bucket, Key=outage["kms_key"])
    assert kms["ServerSideEncryption"] == "aws:kms" and kms["SSEKMSKeyId"] == args["kms_key_id"]
    replica = world.client("s3", outage["source_region"])
    for key in (outage["same_size_changed_key"], outage["multipart_key"], outage["kms_key"]):
        assert primary.get_object(Bucket=bucket, Key=key)["Body"].read() == \
            replica.get_object(Bucket=outage["source_bucket"], Key=key)["Body"].read()
    assert outage["delete"][0] not in {o["Key"] for o in primary.list_objects_v2(Bucket=bucket)["Contents"]}
    # The objects written in eu-west-1 just before the outage (never replicated) are still there.
    assert set(outage["pending"]) <= {o["Key"] for o in primary.list_objects_v2(Bucket=bucket)["Contents"]}

    world.reset_calls()
    rerun = run_module(MODULE, args)
    assert rerun["changed"] is False and writes(world) == {}


def test_modified_since_the_failover_limits_the_copy_back(world, outage):
    res = run_module(MODULE, media_args(world, outage, modified_since=outage["written_after"]), check=True)
    assert not res["failed"], res["msg"]
    assert sorted(a["name"] for a in res["plan"]) == outage["copy"]
    assert res["summary"]["older"] >= len(outage["unchanged"]) - 1


def test_status_reports_pending_and_failed_objects_and_the_rpo(world, outage):
    res = run_module(MODULE, dict(mode="status", source=dict(bucket=outage["destination_bucket"],
                                                             region=outage["destination_region"])))
    assert not res["failed"], res["msg"]
    status = res["status"]
    assert status["rule"]["id"] == world.info["s3"]["replication_rule_id"] and status["enabled"] is True
    assert status["direction"] == "eu-west-1 -> eu-west-2" and status["rule"]["role"] == world.info["s3"]["replication_role_arn"]
    assert status["pending"]["count"] == len(outage["pending"]) and sorted(status["pending"]["first_keys"]) == outage["pending"]
    assert status["failed"]["count"] == len(outage["failed"]) and status["failed"]["first_keys"] == outage["failed"]
    assert status["rpo"]["oldest_pending_age_seconds"] > 0
    assert status["rpo"]["estimate_seconds"] >= status["rpo"]["oldest_pending_age_seconds"]
    assert status["rpo"]["replication_latency_seconds"] is not None  # the seed publishes ReplicationLatency
    assert writes(world) == {}
