"""ListXMLParser reads rest-xml answers (S3 listings, Route 53 record sets) to botocore's values, exactly."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.parsers import ResponseParserFactory, RestXMLParser

from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws, xml_lists

S3NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
R53NS = 'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"'
OWNER = "<Owner><DisplayName>ops</DisplayName><ID>abc123</ID></Owner>"


def s3_object(i, extra=""):
    return ("<Contents><Key>k/%04d &amp; x</Key><LastModified>2026-12-05T10:00:0%d.000Z</LastModified>"
            "<ETag>&quot;%032x&quot;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass>%s</Contents>"
            % (i, i % 10, i, i * 7, extra))


LIST_V2 = ("<ListBucketResult %s><Name>b</Name><Prefix>k/</Prefix><KeyCount>5</KeyCount><MaxKeys>1000</MaxKeys>"
           "<IsTruncated>true</IsTruncated>%s%s%s%s%s"
           "<CommonPrefixes><Prefix>k/a/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>k/b/</Prefix></CommonPrefixes>"
           "<NextContinuationToken>tok==</NextContinuationToken></ListBucketResult>") % (
    S3NS, s3_object(1), s3_object(2, OWNER),
    s3_object(3, "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumAlgorithm>SHA256</ChecksumAlgorithm>"
                 "<ChecksumType>FULL_OBJECT</ChecksumType>"),
    s3_object(4, "<RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress>"
                 "<RestoreExpiryDate>2026-12-09T00:00:00.000Z</RestoreExpiryDate></RestoreStatus><Unmodelled>x</Unmodelled>"),
    "<Contents><Key>empty</Key><ETag></ETag><Size>0</Size><StorageClass/></Contents>")

VERSIONS = ("<ListVersionsResult %s><Name>b</Name><Prefix></Prefix><KeyMarker></KeyMarker><IsTruncated>false</IsTruncated>"
            "<Version><Key>a</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest>"
            "<LastModified>2026-12-05T10:00:00.000Z</LastModified><ETag>&quot;e-2&quot;</ETag><Size>12</Size>"
            "<StorageClass>STANDARD</StorageClass>%s</Version>"
            "<Version><Key>a</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>"
            "<LastModified>2026-12-04T10:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag><Size>11</Size>"
            "<StorageClass>STANDARD</StorageClass></Version>"
            "<DeleteMarker><Key>b</Key><VersionId>d1</VersionId><IsLatest>true</IsLatest>"
            "<LastModified>2026-12-05T11:00:00.000Z</LastModified>%s</DeleteMarker>"
            "</ListVersionsResult>") % (S3NS, OWNER, OWNER)

# A repeated element inside an item: botocore's reading of it (a list of raw XML elements) is kept.
REPEATED = ("<ListBucketResult %s><Name>b</Name><IsTruncated>false</IsTruncated>"
            "<Contents><Key>a</Key><Key>b</Key><Size>1</Size></Contents></ListBucketResult>") % S3NS

BUCKETS = ("<ListAllMyBucketsResult %s>%s<Buckets><Bucket><Name>a</Name><CreationDate>2026-01-01T00:00:00.000Z"
           "</CreationDate></Bucket><Bucket><Name>b</Name><CreationDate>2026-01-02T00:00:00.000Z</CreationDate>"
           "<BucketRegion>eu-west-2</BucketRegion></Bucket></Buckets></ListAllMyBucketsResult>") % (S3NS, OWNER)

RECORD_SETS = ("<ListResourceRecordSetsResponse %s><ResourceRecordSets>"
               "<ResourceRecordSet><Name>api.lomashwood.com.</Name><Type>A</Type><SetIdentifier>primary</SetIdentifier>"
               "<Failover>PRIMARY</Failover><AliasTarget><HostedZoneId>Z1</HostedZoneId><DNSName>alb-1.</DNSName>"
               "<EvaluateTargetHealth>true</EvaluateTargetHealth></AliasTarget><HealthCheckId>hc-1</HealthCheckId>"
               "</ResourceRecordSet>"
               "<ResourceRecordSet><Name>api.lomashwood.com.</Name><Type>A</Type><SetIdentifier>w</SetIdentifier>"
               "<Weight>10</Weight><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord>"
               "<ResourceRecord><Value>10.0.0.2</Value></ResourceRecord></ResourceRecords>"
               "<GeoLocation><CountryCode>GB</CountryCode></GeoLocation></ResourceRecordSet>"
               "</ResourceRecordSets><IsTruncated>true</IsTruncated><MaxItems>2</MaxItems>"
               "<NextRecordName>b.</NextRecordName><NextRecordType>A</NextRecordType></ListResourceRecordSetsResponse>") % R53NS

HEALTH_CHECKS = ("<ListHealthChecksResponse %s><HealthChecks><HealthCheck><Id>hc-1</Id><CallerReference>r</CallerReference>"
                 "<HealthCheckConfig><Type>HTTPS</Type><ResourcePath>/health</ResourcePath>"
                 "<FullyQualifiedDomainName>alb-1</FullyQualifiedDomainName><RequestInterval>10</RequestInterval>"
                 "<FailureThreshold>3</FailureThreshold><Regions><Region>eu-west-1</Region><Region>us-east-1</Region>"
                 "</Regions></HealthCheckConfig><HealthCheckVersion>2</HealthCheckVersion></HealthCheck></HealthChecks>"
                 "<Marker></Marker><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListHealthChecksResponse>") % R53NS

CASES = [("s3", "ListObjectsV2", LIST_V2), ("s3", "ListObjectVersions", VERSIONS), ("s3", "ListObjectsV2", REPEATED),
         ("s3", "ListBuckets", BUCKETS), ("route53", "ListResourceRecordSets", RECORD_SETS),
         ("route53", "ListHealthChecks", HEALTH_CHECKS)]


def plain(value):
    """The value with XML elements as (tag, text): botocore leaves them in for a repeated element."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "tag"):
        return (value.tag, value.text)
    return value


def parse(parser_class, service, operation, body):
    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).output_shape
    parser = parser_class(timestamp_parser=aws._timestamp)  # pylint: disable=protected-access
    return parser.parse({"body": body.encode(), "headers": {"x-amz-request-id": "r1"}, "status_code": 200}, shape)


@pytest.mark.parametrize("service,operation,body", CASES, ids=["%s:%s:%d" % (c[0], c[1], i) for i, c in enumerate(CASES)])
def test_the_values_are_botocores(service, operation, body):
    ours = parse(xml_lists.ListXMLParser, service, operation, body)
    assert plain(ours) == plain(parse(RestXMLParser, service, operation, body))
    assert ours.get("Contents") or ours.get("Versions") or ours.get("Buckets") or ours.get("ResourceRecordSets") \
        or ours.get("HealthChecks")  # the lists were read, not skipped


def test_a_listing_is_read_with_its_types():
    ours = parse(xml_lists.ListXMLParser, "s3", "ListObjectsV2", LIST_V2)
    first, owned, summed, restored, empty = ours["Contents"]
    assert first["Key"] == "k/0001 & x" and first["Size"] == 7 and first["LastModified"].second == 1
    assert owned["Owner"] == {"DisplayName": "ops", "ID": "abc123"}
    assert summed["ChecksumAlgorithm"] == ["CRC32", "SHA256"]
    assert restored["RestoreStatus"]["IsRestoreInProgress"] is False and "Unmodelled" not in restored
    assert empty == {"Key": "empty", "ETag": "", "Size": 0, "StorageClass": ""}
    assert ours["IsTruncated"] is True and ours["NextContinuationToken"] == "tok=="
    assert [p["Prefix"] for p in ours["CommonPrefixes"]] == ["k/a/", "k/b/"]


def test_the_collections_sessions_use_it_for_rest_xml_only():
    factory = aws._session(None)._session.get_component("response_parser_factory")  # pylint: disable=protected-access
    assert isinstance(factory.create_parser("rest-xml"), xml_lists.ListXMLParser)
    assert type(factory.create_parser("json")) is type(ResponseParserFactory().create_parser("json"))  # pylint: disable=unidiomatic-typecheck
