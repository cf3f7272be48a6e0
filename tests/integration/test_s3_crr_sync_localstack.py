"""s3_crr_sync against LocalStack's S3 (scripts/with-world.sh --localstack), as against moto.

The same cases as test_s3_crr_sync.py where LocalStack can answer them, with the module pointed at
LocalStack by AWS_ENDPOINT_URL alone. LocalStack counts no calls, so "nothing written" is read from the
module's own api_calls. Each test makes its own buckets (LocalStack keeps state for the whole run).
Skipped without LOCALSTACK_ENDPOINT_URL.
"""

from __future__ import annotations

import boto3
import pytest

from .runner import run_module
from .test_s3_crr_sync import DST_REGION, MIB, MODULE, SRC_REGION, Pair, body, sync

pytestmark = pytest.mark.localstack
WRITES = ("CopyObject", "DeleteObjects", "CreateMultipartUpload", "UploadPartCopy", "CompleteMultipartUpload",
          "PutBucketReplication", "DeleteBucketReplication")


def wrote(result):
    return {op: n for op, n in result["api_calls"].items() if op in WRITES}


@pytest.fixture
def pair(localstack_endpoint):
    def client(service, region):
        return boto3.client(service, region_name=region, endpoint_url=localstack_endpoint)
    made = Pair(client, env={"AWS_ENDPOINT_URL": localstack_endpoint})
    made.client = client
    return made


def test_sync_four_steps_on_localstack(pair):
    pair.put("src", "same.txt", body("same"))
    pair.put("dst", "same.txt", body("same"))
    pair.put("src", "new.txt", body("new", 300))
    pair.put("dst", "changed.txt", body("old", 32))
    pair.put("src", "changed.txt", body("new", 32))
    check = sync(pair, check=True)
    assert not check["failed"], check["msg"]
    assert [a["name"] for a in check["plan"]] == ["changed.txt", "new.txt"] and wrote(check) == {}
    done = sync(pair)
    assert not done["failed"], done["msg"]
    assert wrote(done) == {"CopyObject": 2} and pair.read("changed.txt") == body("new", 32)
    again = sync(pair)
    assert again["changed"] is False and wrote(again) == {}


def test_properties_kms_and_multipart_on_localstack(pair):
    pair.put("src", "tagged.webp", b"webp", ContentType="image/webp", Metadata={"sku": "LW-1234"},
             Tagging="collection=winter")
    pair.put("src", "private/a.pdf", b"%PDF", ServerSideEncryption="aws:kms", SSEKMSKeyId=pair.kms[SRC_REGION])
    parts = [body("p1", 5 * MIB), body("p2", 5 * MIB), body("p3", MIB)]
    pair.multipart("src", "video.mp4", parts)
    pair.multipart("src", "same-video.mp4", parts)
    pair.multipart("dst", "same-video.mp4", parts)
    done = sync(pair, kms_key_id=pair.kms[DST_REGION])
    assert not done["failed"], done["msg"]
    assert sorted(a["name"] for a in done["plan"]) == ["private/a.pdf", "tagged.webp", "video.mp4"]
    head = pair.head("dst", "tagged.webp")
    assert head["ContentType"] == "image/webp" and head["Metadata"] == {"sku": "LW-1234"}
    assert pair.head("dst", "private/a.pdf")["ServerSideEncryption"] == "aws:kms"
    assert pair.read("video.mp4") == b"".join(parts)
    again = sync(pair, kms_key_id=pair.kms[DST_REGION])
    assert again["changed"] is False and wrote(again) == {}, again["plan"]


def test_delete_and_bad_input_on_localstack(pair):
    for key in ("keep.txt", "gone.txt"):
        pair.put("src", key, body(key))
        pair.put("dst", key, body(key))
    pair.s3[SRC_REGION].delete_object(Bucket=pair.src, Key="gone.txt")
    assert sync(pair)["changed"] is False
    check = sync(pair, check=True, delete=True)
    assert [(a["name"], a["action"]) for a in check["plan"]] == [("gone.txt", "delete")] and wrote(check) == {}
    assert not sync(pair, delete=True)["failed"] and sorted(pair.keys("dst")) == ["keep.txt"]
    bad = run_module(MODULE, pair.args(destination=dict(bucket="lw-none-here", region=DST_REGION)), env=pair.env)
    assert bad["failed"] and "destination.bucket: no bucket 'lw-none-here'" in bad["msg"] and wrote(bad) == {}


def test_replication_rule_on_localstack(pair):
    iam = pair.client("iam", "us-east-1")
    role = iam.create_role(RoleName="lw-crr-" + pair.src[-8:], AssumeRolePolicyDocument='{"Version": "2012-10-17", '
                           '"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, '
                           '"Action": "sts:AssumeRole"}]}')["Role"]
    args = dict(mode="replication", source=dict(bucket=pair.src, region=SRC_REGION),
                destination=dict(bucket=pair.dst, region=DST_REGION),
                replication=dict(rule_id="crr-to-eu-west-1", role=role["RoleName"]))
    done = run_module(MODULE, args, env=pair.env)
    assert not done["failed"], done["msg"]
    config = pair.s3[SRC_REGION].get_bucket_replication(Bucket=pair.src)["ReplicationConfiguration"]
    assert config["Role"] == role["Arn"] and config["Rules"][0]["ID"] == "crr-to-eu-west-1"
    again = run_module(MODULE, args, env=pair.env)
    assert again["changed"] is False and wrote(again) == {}
    status = run_module(MODULE, dict(mode="status", source=args["source"]), env=pair.env)
    assert not status["failed"], status["msg"]
    assert status["status"]["enabled"] is True and status["status"]["direction"] == "eu-west-2 -> eu-west-1"


# LocalStack keeps object tags per region: a CopyObject (TaggingDirective COPY, S3's default) from a
# bucket in another region arrives without them; AWS copies them. Same-region copies keep them. The
# moto world copies them (test_s3_crr_sync.py checks it). strict: when LocalStack fixes it, this says so.
@pytest.mark.xfail(strict=True, reason="LocalStack drops object tags on a cross-region CopyObject")
def test_tags_survive_a_cross_region_copy_on_localstack(pair):
    pair.put("src", "tagged.webp", b"webp", Tagging="collection=winter")
    assert not sync(pair)["failed"]
    tags = pair.s3[DST_REGION].get_object_tagging(Bucket=pair.dst, Key="tagged.webp")["TagSet"]
    assert tags == [{"Key": "collection", "Value": "winter"}]
