"""Route 53 and S3 against LocalStack (scripts/with-world.sh --localstack), next to the moto world.

    scripts/in-netns.sh scripts/with-world.sh --localstack -- python -m pytest -q tests/integration/test_localstack.py

Skipped without LOCALSTACK_ENDPOINT_URL. What LocalStack 2026.3.0's Route 53 does and does not do
(checked with these tests; more in docs/testing-localstack.md):
- Every change is INSYNC at once: ChangeResourceRecordSets answers INSYNC, GetChange answers INSYNC
  for any Id (an unknown one too: no NoSuchChange), and every ChangeResourceRecordSets returns the
  same change Id (/change/C2682N5HXP0BZ4) with a fixed SubmittedAt of 2010-09-10. A PENDING wait
  is never exercised here; the moto world (dns_propagation_seconds) does that.
- GetHealthCheckStatus always answers one observation, region us-east-1, IP 127.0.13.37,
  "Success: HTTP Status Code: 200. Resolved IP: 127.0.13.37. OK", whatever the target, Disabled or
  Inverted: nothing is probed, a region outage cannot be shown. GetHealthCheckLastFailureReason,
  GetHealthCheckCount and TestDNSAnswer answer 501.
- Failover records are not validated: a second PRIMARY, a Failover without SetIdentifier, a
  Failover value "TERTIARY", an unknown HealthCheckId, an A next to a CNAME of the same name and
  a CREATE of an existing record are all accepted (the CREATE adds a duplicate). Only a name
  outside the zone is refused (InvalidChangeBatch). A DELETE that does not match exactly fails
  with a misleading InvalidInput ("Expected exactly one of [AliasTarget, all of [TTL, and
  ResourceRecords] ...") instead of InvalidChangeBatch.
- UPSERT keys on (name, type, SetIdentifier), as AWS does. ListResourceRecordSets with
  StartRecordName/StartRecordType starts there and goes on to the records after it, in AWS's order
  (the caller filters by name and type, as against AWS); MaxItems and IsTruncated work.
"""

from __future__ import annotations

import time
import uuid

import boto3
import botocore.exceptions
import pytest

from .runner import run_module

pytestmark = pytest.mark.localstack

CREDENTIALS = dict(aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing")


def client(endpoint, service, region="us-east-1"):
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **CREDENTIALS)


@pytest.fixture
def route53(localstack_endpoint):
    return client(localstack_endpoint, "route53")


@pytest.fixture
def zone(route53):
    """A fresh hosted zone (LocalStack keeps state for the whole run): its name (no dot) and Id."""
    name = "ls-%s.example.com" % uuid.uuid4().hex[:8]
    created = route53.create_hosted_zone(Name=name, CallerReference=str(uuid.uuid4()))
    return name, created["HostedZone"]["Id"]


def failover_cname(name, set_id, failover, value, health_check_id=None):
    record = dict(Name=name, Type="CNAME", SetIdentifier=set_id, Failover=failover, TTL=60,
                  ResourceRecords=[{"Value": value}])
    if health_check_id:
        record["HealthCheckId"] = health_check_id
    return {"Action": "UPSERT", "ResourceRecordSet": record}


def health_check(route53, fqdn):
    return route53.create_health_check(CallerReference=str(uuid.uuid4()), HealthCheckConfig=dict(
        Type="HTTPS", FullyQualifiedDomainName=fqdn, ResourcePath="/health", Port=443,
        RequestInterval=10, FailureThreshold=3))["HealthCheck"]["Id"]


def wait_insync(route53, change_id, timeout=30):
    statuses = []
    deadline = time.monotonic() + timeout
    while True:
        statuses.append(route53.get_change(Id=change_id)["ChangeInfo"]["Status"])
        if statuses[-1] == "INSYNC" or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def test_route53_failover_records(route53, zone):
    name, zone_id = zone
    api = "api." + name
    check_id = health_check(route53, "eu-west-1." + name)
    change = route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        failover_cname(api, "eu-west-1", "PRIMARY", "alb-1.eu-west-1.example.com", check_id),
        failover_cname(api, "eu-west-2", "SECONDARY", "alb-2.eu-west-2.example.com"),
    ]})["ChangeInfo"]
    # A record after api.<zone> in AWS's order, so the listing below must stop or be filtered.
    www = dict(Name="www." + name, Type="A", TTL=60, ResourceRecords=[{"Value": "192.0.2.1"}])
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": www}]})

    assert change["Status"] in ("PENDING", "INSYNC")
    statuses = wait_insync(route53, change["Id"])
    assert statuses[-1] == "INSYNC", statuses

    listed = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=api, StartRecordType="CNAME")
    ours = [r for r in listed["ResourceRecordSets"] if r["Name"] == api + "." and r["Type"] == "CNAME"]
    assert listed["ResourceRecordSets"][:2] == ours
    assert sorted((r["SetIdentifier"], r["Failover"], r["ResourceRecords"][0]["Value"], r.get("HealthCheckId"))
                  for r in ours) == [
        ("eu-west-1", "PRIMARY", "alb-1.eu-west-1.example.com", check_id),
        ("eu-west-2", "SECONDARY", "alb-2.eu-west-2.example.com", None),
    ]
    assert {r["TTL"] for r in ours} == {60}
    page = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=api, StartRecordType="CNAME",
                                             MaxItems="2")
    assert page["ResourceRecordSets"] == ours and page["IsTruncated"] is True  # www follows

    # UPSERT of the PRIMARY (the failover's swap) replaces it in place, keyed on SetIdentifier.
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        failover_cname(api, "eu-west-1", "PRIMARY", "alb-2.eu-west-2.example.com", check_id)]})
    again = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=api, StartRecordType="CNAME",
                                              MaxItems="2")["ResourceRecordSets"]
    assert [(r["SetIdentifier"], r["ResourceRecords"][0]["Value"]) for r in again] == [
        ("eu-west-1", "alb-2.eu-west-2.example.com"), ("eu-west-2", "alb-2.eu-west-2.example.com")]

    zones = route53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]
    assert zones and zones[0]["Name"] == name + "." and zones[0]["Id"] == zone_id

    observations = route53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
    assert observations
    for observation in observations:
        assert observation["StatusReport"]["Status"].startswith(("Success", "Failure")), observation
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        route53.get_health_check_status(HealthCheckId=str(uuid.uuid4()))
    assert missing.value.response["Error"]["Code"] == "NoSuchHealthCheck"


def test_route53_facts_the_docs_rely_on(route53, zone):
    """What docs/testing-localstack.md says LocalStack does not do. A failure here means LocalStack
    changed: update the docs (and perhaps test more against it)."""
    name, zone_id = zone
    api = "api." + name
    first = route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        failover_cname(api, "a", "PRIMARY", "a.example.com")]})["ChangeInfo"]
    # Not validated: a second PRIMARY and an unknown health check.
    second = route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        failover_cname(api, "b", "PRIMARY", "b.example.com", str(uuid.uuid4()))]})["ChangeInfo"]
    assert (first["Status"], second["Status"]) == ("INSYNC", "INSYNC")
    assert first["Id"] == second["Id"]  # one change Id for every change
    assert route53.get_change(Id="C0000000000000")["ChangeInfo"]["Status"] == "INSYNC"  # unknown Id
    listed = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=api, StartRecordType="CNAME")
    assert [r["Failover"] for r in listed["ResourceRecordSets"] if r["Name"] == api + "."] == ["PRIMARY", "PRIMARY"]

    # Health checks are not probed: a closed loopback port reports success.
    closed = route53.create_health_check(CallerReference=str(uuid.uuid4()), HealthCheckConfig=dict(
        Type="HTTP", IPAddress="127.0.0.1", Port=9, ResourcePath="/health"))["HealthCheck"]["Id"]
    status = route53.get_health_check_status(HealthCheckId=closed)["HealthCheckObservations"]
    assert [o["StatusReport"]["Status"] for o in status] == ["Success: HTTP Status Code: 200. Resolved IP: 127.0.13.37. OK"]

    # Refused: a name outside the zone.
    with pytest.raises(botocore.exceptions.ClientError) as outside:
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
            failover_cname("api.elsewhere.example.net", "a", "PRIMARY", "a.example.com")]})
    assert outside.value.response["Error"]["Code"] == "InvalidChangeBatch"


def test_s3_two_buckets_put_copy_head(localstack_endpoint):
    primary, standby = client(localstack_endpoint, "s3", "eu-west-1"), client(localstack_endpoint, "s3", "eu-west-2")
    suffix = uuid.uuid4().hex[:8]
    media_1, media_2 = "media-eu-west-1-" + suffix, "media-eu-west-2-" + suffix
    primary.create_bucket(Bucket=media_1, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    standby.create_bucket(Bucket=media_2, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    assert standby.get_bucket_location(Bucket=media_1)["LocationConstraint"] == "eu-west-1"

    primary.put_object(Bucket=media_1, Key="img/1.jpg", Body=b"jpeg bytes", ContentType="image/jpeg",
                       Metadata={"origin": "eu-west-1"})
    standby.copy_object(Bucket=media_2, Key="img/1.jpg", CopySource={"Bucket": media_1, "Key": "img/1.jpg"})
    standby.copy_object(Bucket=media_2, Key="img/2.jpg", CopySource={"Bucket": media_1, "Key": "img/1.jpg"},
                        MetadataDirective="REPLACE", Metadata={"origin": "copied"}, ContentType="image/png")

    source = primary.head_object(Bucket=media_1, Key="img/1.jpg")
    copied = standby.head_object(Bucket=media_2, Key="img/1.jpg")
    replaced = standby.head_object(Bucket=media_2, Key="img/2.jpg")
    assert (source["ContentLength"], source["ContentType"], source["Metadata"]) == (10, "image/jpeg", {"origin": "eu-west-1"})
    assert (copied["ETag"], copied["ContentType"], copied["Metadata"]) == (source["ETag"], "image/jpeg", {"origin": "eu-west-1"})
    assert (replaced["ContentType"], replaced["Metadata"]) == ("image/png", {"origin": "copied"})
    assert standby.get_object(Bucket=media_2, Key="img/2.jpg")["Body"].read() == b"jpeg bytes"
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        standby.head_object(Bucket=media_2, Key="img/3.jpg")
    assert missing.value.response["Error"]["Code"] == "404"


def test_s3_replication_is_configured_but_copies_nothing(localstack_endpoint):
    """As in moto: the CRR configuration is stored (versioning required on both sides, as AWS
    requires), but no object is replicated; the seeding copies objects itself."""
    primary, standby = client(localstack_endpoint, "s3", "eu-west-1"), client(localstack_endpoint, "s3", "eu-west-2")
    suffix = uuid.uuid4().hex[:8]
    source, target = "crr-src-" + suffix, "crr-dst-" + suffix
    primary.create_bucket(Bucket=source, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    standby.create_bucket(Bucket=target, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    rules = {"Role": "arn:aws:iam::000000000000:role/crr", "Rules": [{
        "ID": "all", "Status": "Enabled", "Priority": 1, "Filter": {},
        "DeleteMarkerReplication": {"Status": "Disabled"}, "Destination": {"Bucket": "arn:aws:s3:::" + target}}]}
    with pytest.raises(botocore.exceptions.ClientError) as unversioned:
        primary.put_bucket_replication(Bucket=source, ReplicationConfiguration=rules)
    assert unversioned.value.response["Error"]["Code"] == "InvalidRequest"
    for s3, bucket in ((primary, source), (standby, target)):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    primary.put_bucket_replication(Bucket=source, ReplicationConfiguration=rules)
    assert primary.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]["Rules"][0]["ID"] == "all"
    primary.put_object(Bucket=source, Key="k", Body=b"v")
    time.sleep(1)
    assert standby.list_objects_v2(Bucket=target).get("KeyCount") == 0


def test_amazon_aws_route53_module_against_localstack(localstack_endpoint, route53, zone):
    """The stock amazon.aws.route53 with endpoint_url: failover records, idempotent, wait works
    (changes are INSYNC at once). Its `region` option is latency routing, not the connection
    region (that is aws_region): module_defaults that set `region` for the aws group break it."""
    name, zone_id = zone
    common = dict(endpoint_url=localstack_endpoint, aws_region="us-east-1", zone=name, record="api." + name,
                  type="CNAME", ttl=60, state="present")
    env = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing")
    primary = run_module("amazon.aws.route53", dict(common, value="alb-1.example.com", identifier="eu-west-1",
                                                    failover="PRIMARY", wait=True, wait_timeout=30), env=env)
    assert primary["failed"] is False and primary["changed"] is True, primary["_stdout"]
    secondary = run_module("amazon.aws.route53", dict(common, value="alb-2.example.com", identifier="eu-west-2",
                                                      failover="SECONDARY"), env=env)
    assert secondary["failed"] is False and secondary["changed"] is True, secondary["_stdout"]
    rerun = run_module("amazon.aws.route53", dict(common, value="alb-2.example.com", identifier="eu-west-2",
                                                  failover="SECONDARY"), env=env)
    assert rerun["failed"] is False and rerun["changed"] is False, rerun["_stdout"]

    listed = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName="api." + name,
                                               StartRecordType="CNAME")["ResourceRecordSets"]
    assert sorted((r["SetIdentifier"], r["Failover"], r["ResourceRecords"][0]["Value"]) for r in listed
                  if r["Type"] == "CNAME") == [("eu-west-1", "PRIMARY", "alb-1.example.com"),
                                               ("eu-west-2", "SECONDARY", "alb-2.example.com")]

    clash = run_module("amazon.aws.route53", dict(common, region="eu-west-2", value="alb-1.example.com",
                                                  identifier="eu-west-1", failover="PRIMARY"), env=env)
    assert clash["failed"] is True and "mutually exclusive: failover|routing_region|region|weight" in clash["msg"]
