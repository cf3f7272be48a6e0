# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Lomash Wood
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""botocore's rest-xml response parser (S3, Route 53), with the items of a list of structures read
in one pass over each item's children, and HTTP dates (S3's Last-Modified header) read without dateutil.

botocore reads every item of a list (a 1,000-key S3 listing's Contents) through its generic
structure handler: a dict of the item's children, then a lookup per member of the model, each with
its name worked out again. For a listing that is about two thirds of the CPU of a page, and an S3
sync's two listings run under one GIL: the rerun of a synced pair of 10,000 keys spent ~0.6 s
of its ~1.7 s there. Here each item's children are read once, against a plan made once per shape
(the member's XML name and how its value is read). The result is botocore's, to the value: items
with anything the plan does not cover (an XML attribute member, a repeated element) go through
botocore's own handler, and the unit tests compare both parsers on S3's and Route 53's listings.

A timestamp in a header (HeadObject's Last-Modified, an HTTP date) goes through dateutil in botocore,
~90 us a value, ~0.1 s of CPU for the 1,000 HeadObject of a 1,000-object copy: an HTTP date in its one
standard form (IMF-fixdate, RFC 9110) is read here, to the same value; anything else goes to the
parser's own timestamp parser.
"""

from __future__ import annotations

import datetime
import threading

try:
    from botocore.parsers import ResponseParserFactory, RestXMLParser
except ImportError:  # the modules report the missing botocore
    ResponseParserFactory = RestXMLParser = object

# How a scalar member's text becomes its value, as botocore's handlers do (an empty element is "").
_SCALARS = {
    "string": lambda parser, text: text,
    "character": lambda parser, text: text,
    "integer": lambda parser, text: int(text),
    "long": lambda parser, text: int(text),
    "float": lambda parser, text: float(text),
    "double": lambda parser, text: float(text),
    "boolean": lambda parser, text: text == "true",
    "timestamp": lambda parser, text: parser._timestamp_parser(text),  # pylint: disable=protected-access
}
_PLANS = {}  # id(shape) -> (shape, plan); the shape is held so its id is not reused
_PLANS_LOCK = threading.Lock()


_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_UTC = datetime.timezone.utc


def http_date(value):
    """An IMF-fixdate ('Thu, 03 Dec 2026 12:00:00 GMT') as an aware datetime in UTC; None for anything else."""
    if not isinstance(value, str) or len(value) != 29 or value[3:5] != ", " or value[25:] != " GMT" or \
            value[7] != " " or value[11] != " " or value[16] != " " or value[19] != ":" or value[22] != ":":
        return None
    month = _MONTHS.get(value[8:11])
    digits = value[5:7] + value[12:16] + value[17:19] + value[20:22] + value[23:25]
    if month is None or not (digits.isascii() and digits.isdigit()):
        return None
    try:
        return datetime.datetime(int(value[12:16]), month, int(value[5:7]), int(value[17:19]), int(value[20:22]),
                                 int(value[23:25]), tzinfo=_UTC)
    except ValueError:  # no such day or time
        return None


def _http_dates_first(parse):
    def timestamp(value):
        when = http_date(value)
        return parse(value) if when is None else when
    return timestamp


class ListXMLParser(RestXMLParser):
    """RestXMLParser with a faster, equal reading of the structures in a list, and of HTTP dates."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._timestamp_parser = _http_dates_first(self._timestamp_parser)

    def _handle_list(self, shape, node):
        member = shape.member
        flattened = shape.serialization.get("flattened")
        plan = self._plan(member) if member.type_name == "structure" else None
        if plan is None or (isinstance(node, list) and not flattened):
            return super()._handle_list(shape, node)
        items = node if isinstance(node, list) else ([node] if flattened else node)
        return [self._item(member, plan, item) for item in items]

    def _plan(self, shape):
        """{xml name: (member name, the shape an element holds, its scalar reader or None, whether it is an
        item of a flattened list)}, or None: botocore reads the structure."""
        cached = _PLANS.get(id(shape))
        if cached is not None:
            return cached[1]
        plan = {}
        if shape.metadata.get("exception") or shape.is_tagged_union:
            plan = None
        else:
            for name, member in shape.members.items():
                serialization = member.serialization
                if serialization.get("location") in self.KNOWN_LOCATIONS or serialization.get("eventheader"):
                    continue
                xml_name = self._member_key_name(member, name)
                if serialization.get("xmlAttribute") or xml_name in plan:
                    plan = None
                    break
                flat = member.type_name == "list" and bool(serialization.get("flattened"))
                reads = member.member if flat else member
                plan[xml_name] = (name, reads, _SCALARS.get(reads.type_name), flat)
        with _PLANS_LOCK:
            _PLANS[id(shape)] = (shape, plan)
        return plan

    def _item(self, shape, plan, node):
        parsed = {}
        for child in node:
            tag = child.tag
            if tag[:1] == "{":  # a namespace: botocore's _node_tag drops it
                tag = tag[tag.index("}") + 1:]
            entry = plan.get(tag)
            if entry is None:
                continue  # not in the model: botocore skips it too
            name, reads, scalar, flat = entry
            if scalar is not None:
                text = child.text
                value = scalar(self, "" if text is None else text)
            else:
                value = self._parse_shape(reads, child)
            if flat:  # a flattened list: each of its elements is one of the list's items
                parsed.setdefault(name, []).append(value)
            elif name in parsed:  # a repeated element: botocore's own reading decides what it means
                return super()._handle_structure(shape, node)
            else:
                parsed[name] = value
        return parsed


class ParserFactory(ResponseParserFactory):
    """botocore's parser factory, with ListXMLParser for rest-xml."""

    def create_parser(self, protocol_name):
        if protocol_name == "rest-xml":
            return ListXMLParser(**self._defaults)
        return super().create_parser(protocol_name)
