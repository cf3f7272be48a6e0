"""The S3 core: inputs, the listing merge, deciding what differs, copy properties, the CRR rule."""

from __future__ import annotations

import datetime
import itertools
import urllib.parse

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import s3 as core

from fake_aws import fake_client

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
T0 = datetime.datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def item(key, size=10, etag='"e"', when=T0, deleted=False):
    return core.Listed(key, size, etag, when, "STANDARD", deleted)


@pytest.mark.parametrize("prefix, problem", [
    ("", None), ("uploads/", None), ("/uploads", "starts with '/'"), ("a\x01b", "control character"),
    ("k" * 1025, "longer than S3's 1,024-byte keys"),
])
def test_check_prefix(prefix, problem):
    problems = core.check_prefix(prefix)
    assert (problem in problems[0]) if problem else problems == []


@pytest.mark.parametrize("value, expected", [
    ("2026-12-03T09:15:00Z", datetime.datetime(2026, 12, 3, 9, 15, tzinfo=UTC)),
    ("2026-12-03T10:15:00+01:00", datetime.datetime(2026, 12, 3, 9, 15, tzinfo=UTC)),
    ("2026-12-03 09:15:00", datetime.datetime(2026, 12, 3, 9, 15, tzinfo=UTC)),  # no zone: UTC
    ("1796289300", datetime.datetime.fromtimestamp(1796289300, UTC)),
    (None, None),
])
def test_parse_time(value, expected):
    assert core.parse_time(value, NOW) == (expected, [])


@pytest.mark.parametrize("value, problem", [
    ("yesterday", "'yesterday' is not a time"), ("2026-13-01", "is not a time"),
    ("2026-12-04T00:00:00Z", "is in the future"),
])
def test_parse_time_refuses(value, problem):
    when, problems = core.parse_time(value, NOW)
    assert when is None and problem in problems[0] and problems[0].startswith("modified_since: ")


def test_check_pair():
    assert core.check_pair(dict(bucket="a", region="eu-west-1"), dict(bucket="b", region="eu-west-2")) == []
    assert "is the source bucket" in core.check_pair(dict(bucket="a", region="eu-west-1"),
                                                     dict(bucket="a", region="eu-west-2"))[0]


def test_kms_key_region():
    assert core.kms_key_region("arn:aws:kms:eu-west-1:123456789012:key/abc") == "eu-west-1"
    assert core.kms_key_region("alias/lomash-wood-media") is None and core.kms_key_region(None) is None


def test_merge_pairs_keys_of_two_ordered_streams():
    src = [item("a"), item("c"), item("d")]
    dst = [item("b"), item("c"), item("e")]
    merged = [(k, s is not None, d is not None) for k, s, d in core.merge(iter(src), iter(dst))]
    assert merged == [("a", True, False), ("b", False, True), ("c", True, True), ("d", True, False), ("e", False, True)]
    assert list(core.merge(iter([]), iter([]))) == []


def test_list_current_pages_and_counts():
    pages = {None: dict(Contents=[{"Key": "a", "Size": 1, "ETag": '"1"', "LastModified": T0}], IsTruncated=True,
                        NextContinuationToken="t1"),
             "t1": dict(Contents=[{"Key": "b", "Size": 2, "ETag": '"2"', "LastModified": T0}], IsTruncated=False)}
    client = fake_client("s3", list_objects_v2=lambda **kw: pages[kw.get("ContinuationToken")])
    counts = {}
    assert [i.key for i in core.list_current(client, "bkt", "", counts)] == ["a", "b"]
    assert counts == {"bkt": 2} and [c[1]["MaxKeys"] for c in client.calls] == [1000, 1000]


def test_list_latest_merges_versions_and_delete_markers_of_a_page():
    page = dict(
        Versions=[{"Key": "a", "VersionId": "2", "IsLatest": True, "Size": 1, "ETag": '"1"', "LastModified": T0},
                  {"Key": "a", "VersionId": "1", "IsLatest": False, "Size": 1, "ETag": '"0"', "LastModified": T0},
                  {"Key": "c", "VersionId": "1", "IsLatest": False, "Size": 1, "ETag": '"c"', "LastModified": T0}],
        DeleteMarkers=[{"Key": "b", "VersionId": "3", "IsLatest": True, "LastModified": T0},
                       {"Key": "c", "VersionId": "2", "IsLatest": True, "LastModified": T0}],
        IsTruncated=False)
    client = fake_client("s3", list_object_versions=lambda **kw: page)
    assert [(i.key, i.deleted) for i in core.list_latest(client, "bkt")] == [("a", False), ("b", True), ("c", True)]


@pytest.mark.parametrize("dst, verdict", [
    (None, "missing"), (item("k", size=11), "size"), (item("k"), None), (item("k", etag='"other"'), "unknown"),
])
def test_quick_verdict(dst, verdict):
    assert core.quick_verdict(item("k"), dst) == verdict


MD5_A, MD5_B = '"%s"' % ("a" * 32), '"%s"' % ("b" * 32)


@pytest.mark.parametrize("src, dst, verdict", [
    # What a copy recorded settles it, whatever the ETags.
    (dict(ETag='"abc-3"'), dict(ETag=MD5_A, Metadata={core.RECORD_KEY: "abc-3"}), None),
    (dict(ETag='"abd-3"'), dict(ETag=MD5_A, Metadata={core.RECORD_KEY: "abc-3"}), "changed"),
    # Full-object checksums of one algorithm compare content.
    (dict(ETag='"x-2"', ChecksumCRC32="AAAA"), dict(ETag=MD5_A, ChecksumCRC32="AAAA"), None),
    (dict(ETag=MD5_B, ChecksumCRC32="AAAA"), dict(ETag=MD5_A, ChecksumCRC32="BBBB"), "checksum"),
    # Composite (multipart) checksums are not whole-content digests: no verdict from them.
    (dict(ETag='"x-2"', ChecksumCRC32="AAAA-2", ChecksumType="COMPOSITE"), dict(ETag=MD5_A, ChecksumCRC32="AAAA"), "unproven"),
    # Two single-part unencrypted objects: the ETags are MD5s, so they differ.
    (dict(ETag=MD5_B), dict(ETag=MD5_A, ServerSideEncryption="AES256"), "etag"),
    # A KMS object's ETag is not an MD5, nor a multipart one's: nothing proves them equal.
    (dict(ETag=MD5_B, ServerSideEncryption="aws:kms"), dict(ETag=MD5_A), "unproven"),
    (dict(ETag='"x-2"'), dict(ETag=MD5_A), "unproven"),
])
def test_head_verdict(src, dst, verdict):
    assert core.head_verdict(src, dst) == verdict


def test_copy_properties_plain_object_copies_metadata_as_is():
    head = dict(ETag=MD5_A, ContentType="image/webp", Metadata={"sku": "1"}, ServerSideEncryption="AES256")
    assert core.copy_properties(head, None) == dict(ServerSideEncryption="AES256")


def test_copy_properties_kms_object_records_the_source_etag_and_keeps_headers():
    head = dict(ETag='"abc"', ContentType="application/pdf", CacheControl="no-cache", Metadata={"c": "1"},
                ServerSideEncryption="aws:kms", SSEKMSKeyId="arn:aws:kms:eu-west-2:1:key/src", StorageClass="STANDARD_IA")
    args = core.copy_properties(head, "arn:aws:kms:eu-west-1:1:key/dst")
    assert args == dict(ServerSideEncryption="aws:kms", SSEKMSKeyId="arn:aws:kms:eu-west-1:1:key/dst",
                        StorageClass="STANDARD_IA", ContentType="application/pdf", CacheControl="no-cache",
                        Metadata={"c": "1", core.RECORD_KEY: "abc"}, MetadataDirective="REPLACE")


def test_copy_properties_records_when_the_destination_encrypts_with_kms_by_default():
    assert core.copy_properties(dict(ETag=MD5_A), None, destination_kms=True)["Metadata"] == {core.RECORD_KEY: "a" * 32}


def test_encryption_problems_name_the_objects():
    plan = [core.CopyObject("k1", "missing", item("k1"), head=dict(ETag=MD5_A, ServerSideEncryption="aws:kms")),
            core.CopyObject("k2", "missing", item("k2"), head=dict(ETag=MD5_A, SSECustomerAlgorithm="AES256")),
            core.CopyObject("k3", "missing", item("k3"), head=dict(ETag=MD5_A))]
    problems = core.encryption_problems(plan, None)
    assert problems[0].startswith("kms_key_id: 1 object(s)") and "k1" in problems[0]
    assert "SSE-C" in problems[1] and "k2" in problems[1]
    assert core.encryption_problems(plan[:1], "alias/x") == []


@pytest.mark.parametrize("size, part_size, parts, last", [
    (12 * core.MIB, 5 * core.MIB, 3, "bytes=10485760-12582911"),
    (5 * core.MIB, 5 * core.MIB, 1, "bytes=0-5242879"),
    (100 * core.GIB, 5 * core.MIB, 10000, None),  # grown so 10,000 parts are enough
])
def test_part_ranges(size, part_size, parts, last):
    ranges = core.part_ranges(size, part_size)
    assert len(ranges) <= parts and (last is None or ranges[-1] == last)
    assert ranges[0].startswith("bytes=0-") and ranges[-1].endswith("-%d" % (size - 1))


def test_tally_keeps_a_sample_and_the_oldest():
    tally = core.Tally(sample_size=2)
    for n, when in enumerate([T0, T0 - datetime.timedelta(hours=1), T0]):
        tally.add("k%d" % n, 10, when)
    out = tally.as_dict(NOW)
    assert out == dict(count=3, bytes=30, first_keys=["k0", "k1"], oldest="2026-12-03T08:00:00Z",
                       oldest_age_seconds=4 * 3600.0)


SPEC = dict(rule_id="crr-to-eu-west-2", priority=1, status="enabled", delete_marker_replication=True,
            storage_class="STANDARD", replica_kms_key_id=None)


def test_wanted_rule_round_trips_through_rule_view():
    rule = core.wanted_rule(SPEC, "lomash-wood-media-prod-replica", "")
    assert core.rule_view(rule, "arn:role") == dict(
        id="crr-to-eu-west-2", status="Enabled", priority=1, prefix="", destination_bucket="lomash-wood-media-prod-replica",
        storage_class="STANDARD", delete_marker_replication=True, replica_kms_key_id=None, role="arn:role")
    kms = core.wanted_rule(dict(SPEC, replica_kms_key_id="arn:k"), "b", "media/")
    assert kms["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    assert core.rule_view(kms)["replica_kms_key_id"] == "arn:k" and core.rule_view(kms)["prefix"] == "media/"


def test_merged_config_keeps_other_rules_and_removes_ours():
    ours = core.wanted_rule(SPEC, "b", "")
    other = dict(ID="other", Status="Enabled", Priority=2, Destination={"Bucket": "arn:aws:s3:::c"})
    config = dict(Role="arn:old", Rules=[other, dict(ours, Status="Disabled")])
    merged = core.merged_config(config, ours, "arn:new")
    assert merged == dict(Role="arn:new", Rules=[other, ours])
    assert core.merged_config(config, ours, None, absent=True) == dict(Role="arn:old", Rules=[other])
    assert core.merged_config(dict(Role="r", Rules=[ours]), ours, None, absent=True) is None


def test_find_rule():
    a = dict(ID="a", Destination={"Bucket": "arn:aws:s3:::one"})
    b = dict(ID="b", Destination={"Bucket": "arn:aws:s3:::two"})
    config = dict(Rules=[a, b])
    assert core.find_rule(config, "b") is b and core.find_rule(config, "c") is None
    assert core.find_rule(config, destination_bucket="two") is b
    assert core.find_rule(dict(Rules=[a])) is a and core.find_rule(config) is None and core.find_rule(None) is None


@pytest.mark.parametrize("value", ["2026-12-03T12:00:00.000Z", "2026-12-03T12:00:00Z", "2026-12-03T13:00:00+01:00",
                                   "Thu, 03 Dec 2026 12:00:00 GMT", "1796299200", 1796299200, "2026-12-03T12:00:00"])
def test_fast_timestamps_parse_as_botocore_does(value):
    from botocore.utils import parse_timestamp

    from ansible_collections.lomashwood.multiregion.plugins.module_utils.aws import _timestamp

    ours, theirs = _timestamp(value), parse_timestamp(value)
    assert ours == theirs and ours.utcoffset() == theirs.utcoffset()


# ---- the listing's next page, started before this one is parsed ---------------------------------

class _Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **_kwargs):
        yield self.body


def _page_xml(keys, token=None):
    contents = "".join("<Contents><Key>%s</Key><LastModified>2026-12-03T09:00:00.000Z</LastModified><ETag>&quot;%s&quot;"
                       "</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>" % (k, k, len(k)) for k in keys)
    more = "<IsTruncated>true</IsTruncated><NextContinuationToken>%s</NextContinuationToken>" % token if token else \
        "<IsTruncated>false</IsTruncated>"
    return ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            "<Name>bkt</Name><Prefix></Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys>%s%s</ListBucketResult>"
            % (len(keys), more, contents)).encode()


def served_client(pages, log, latency=0.06, parse=0.03):
    """A real S3 client of the module's session (its parser) whose ListObjectsV2 answers are served from
    pages {token or None: (keys, next token or None)} as raw XML after `latency` seconds, and parsed as
    S3's are, taking `parse` seconds more; log gets ("send", token) as each call goes out and
    ("parsed", token) once its page is parsed."""
    import time

    from botocore.awsrequest import AWSResponse
    from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
    from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws

    client = aws._session(None).client("s3", region_name="eu-west-2", aws_access_key_id="testing",  # pylint: disable=protected-access
                                       aws_secret_access_key="testing", endpoint_url="https://127.0.0.1:9")

    def token_of(url):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        return query.get("continuation-token", [None])[0]

    def send(request, **_kwargs):
        token = token_of(request.url)
        log.append(("send", token))
        keys, following = pages[token]
        time.sleep(latency)
        return AWSResponse(request.url, 200, {}, _Raw(_page_xml(keys, following)))

    client.meta.events.register("before-send.s3.ListObjectsV2", send)
    client.meta.events.register_last("before-parse.s3.ListObjectsV2", lambda **kw: time.sleep(parse))
    client.meta.events.register("after-call.s3.ListObjectsV2", lambda http_response, **kw: log.append(
        ("parsed", token_of(http_response.url))))
    return RetryingBotoClientWrapper(client, aws.RETRY)


PAGES = {None: (["a", "b"], "t1"), "t1": (["c"], "t2"), "t2": (["d", "e"], "t3"), "t3": (["f"], None)}


def test_each_page_is_asked_for_before_the_one_before_it_is_parsed():
    log = []
    client = served_client(PAGES, log)
    counts = {}
    assert [i.key for i in core.list_current(client, "bkt", "", counts)] == list("abcdef")
    assert counts == {"bkt": 6}
    sends = [token for what, token in log if what == "send"]
    assert sends == [None, "t1", "t2", "t3"]  # each page once, in order
    for before, after in ((None, "t1"), ("t1", "t2"), ("t2", "t3")):
        assert log.index(("send", after)) < log.index(("parsed", before)), log


def test_pages_read_ahead_are_bounded_and_a_listing_given_up_on_stops():
    import time

    pages = {None: (["k0"], "t1")}
    pages.update(("t%d" % n, (["k%d" % n], "t%d" % (n + 1))) for n in range(1, 50))
    log = []
    listing = core.current_pages(served_client(pages, log), "bkt", ahead=2)
    assert [i.key for i in next(listing)] == ["k0"]
    time.sleep(0.3)  # nothing asks for more pages: the early calls stop at `ahead`
    assert [token for what, token in log if what == "send"] == [None, "t1", "t2"]
    assert [i.key for page in itertools.islice(listing, 3) for i in page] == ["k1", "k2", "k3"]
    listing.close()
    time.sleep(0.2)
    sent = len([1 for what, _token in log if what == "send"])
    assert sent <= 6  # k4 and k5 at most were on their way
    time.sleep(0.2)
    assert len([1 for what, _token in log if what == "send"]) == sent


def test_a_token_with_markup_is_taken_from_the_parsed_page():
    pages = {None: (["a"], "x&amp;y"), "x&y": (["b"], None)}
    log = []
    assert [i.key for i in core.list_current(served_client(pages, log), "bkt")] == ["a", "b"]
    assert log == [("send", None), ("parsed", None), ("send", "x&y"), ("parsed", "x&y")]


# ---- quicker reading of S3's answers, to the same result -------------------------------------------

@pytest.mark.parametrize("value, read_here", [
    ("Thu, 03 Dec 2026 12:00:00 GMT", True), ("Tue, 29 Feb 2028 23:59:59 GMT", True), ("Sat, 01 Jan 2000 00:00:00 GMT", True),
    ("Thu, 3 Dec 2026 12:00:00 GMT", False), ("Thu, 03 Dec 2026 12:00:00 UTC", False), ("2026-12-03T12:00:00Z", False),
])
def test_s3_http_dates_parse_as_botocore_does(value, read_here):
    from botocore.utils import parse_timestamp

    from ansible_collections.lomashwood.multiregion.plugins.module_utils.aws import _timestamp
    from ansible_collections.lomashwood.multiregion.plugins.module_utils.xml_lists import _http_dates_first, http_date

    ours, theirs = _http_dates_first(_timestamp)(value), parse_timestamp(value)
    assert ours == theirs and ours.utcoffset() == theirs.utcoffset()
    assert (http_date(value) is not None) is read_here


def test_s3_http_dates_that_are_no_dates_are_left_to_botocore():
    from ansible_collections.lomashwood.multiregion.plugins.module_utils.xml_lists import http_date

    assert http_date("Sun, 29 Feb 2026 12:00:00 GMT") is None  # no such day
    assert http_date("Thu, 03 Dec 2026 25:00:00 GMT") is None and http_date("Thu, 03 Dec 2026 1a:00:00 GMT") is None
    assert http_date(1796299200) is None and http_date("Thu, 03 Dez 2026 12:00:00 GMT") is None


ERROR_200 = b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>x</Message></Error>'
COPIED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
          b'<LastModified>2026-12-03T09:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag></CopyObjectResult>')


@pytest.mark.parametrize("body", [
    COPIED, COPIED + b"\n", b"<CopyObjectResult><ETag>x</ETag></CopyObjectResult>", ERROR_200, COPIED[:-10],
    b"<!-- x --><CopyObjectResult/>", b"<s3:R xmlns:s3='u'></s3:R>", b"junk", b"<Error/>", _page_xml(["a"], "t"),
])
def test_s3_answers_plainly_without_an_error_are_what_botocore_finds_no_error_in(body):
    from botocore.handlers import _looks_like_special_case_error

    if core.plainly_no_error(body):
        assert not _looks_like_special_case_error(200, body)
    assert core.plainly_no_error(body) == (body in (COPIED, COPIED + b"\n", b"<CopyObjectResult><ETag>x</ETag></CopyObjectResult>",
                                                    _page_xml(["a"], "t")))


@pytest.mark.parametrize("answers, sends", [([COPIED], 1), ([ERROR_200, COPIED], 2), ([COPIED[:-10], COPIED], 2)])
def test_s3_a_200_with_an_error_or_cut_short_is_still_tried_again(answers, sends):
    from botocore.awsrequest import AWSResponse

    from ansible_collections.lomashwood.multiregion.plugins.module_utils import aws

    client = aws._session(None).client("s3", region_name="eu-west-2", aws_access_key_id="testing",  # pylint: disable=protected-access
                                       aws_secret_access_key="testing", endpoint_url="https://127.0.0.1:9")
    core.fast_client(client)
    sent = []

    def send(request, **_kwargs):
        sent.append(request.url)
        return AWSResponse(request.url, 200, {}, _Raw(answers[min(len(sent), len(answers)) - 1]))

    client.meta.events.register("before-send.s3.CopyObject", send)
    client.meta.events.register("needs-retry.s3.CopyObject", lambda **kw: None)
    answer = client.copy_object(Bucket="dst", Key="k", CopySource=dict(Bucket="src", Key="k"))
    assert answer["CopyObjectResult"]["ETag"] == '"e"' and len(sent) == sends
