"""extensions/awx/controller-assets.yml against awxkit (what `awx import` reads) and the playbooks.

Fast and offline: the file goes through awxkit's own `awx import` command up to the point where it
would log in, and its references are checked against awxkit's natural keys and import order; the
job templates are checked against the playbooks, roles and inventory they run.
"""

from __future__ import annotations

import glob
import io
import itertools
import os
import re

import warnings

import pytest
import yaml

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # awxkit's CLI imports pkg_resources (setuptools < 81 is pinned for it)
    from awxkit.cli import client as awxkit_client
    from awxkit.cli import resource as awxkit_resource

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSETS = os.path.join(ROOT, "extensions", "awx", "controller-assets.yml")
REHEARSAL = "DR rehearsal (check mode)"
TEMPLATES = {"DR failover", "DR planned failover", "DR failback", "DNS drill", REHEARSAL, "DR readiness"}
# The confirmation the surveys ask for. The playbooks must refuse a run whose typed region is not the
# one named; until a role reads it, the survey question is a promise nobody keeps (see the xfail below).
CONFIRM = "dr_confirm_region"


class _OfflineCLI(awxkit_client.CLI):
    """awxkit's own CLI client, stopped where it would log in: the import hands its data over here."""

    imported = None

    def authenticate(self):
        self.imported = {}

    @property
    def v2(self):
        return self

    def import_assets(self, data):
        self.imported = data
        return True


@pytest.fixture(scope="module")
def assets():
    """The data `awx import -f yaml < extensions/awx/controller-assets.yml` (docs/awx.md) hands to the
    controller's API: the command line parsed and the file read by awxkit itself."""
    with open(ASSETS, encoding="utf-8") as stream:
        cli = _OfflineCLI(stdin=stream)
        cli.parse_args(["awx", "import", "-f", "yaml"], env={})
        awxkit_resource.Import().handle(cli, None)
    assert isinstance(cli.imported, dict) and cli.imported, "awxkit read nothing"
    return cli.imported


def _item_classes():
    """awxkit's page class per exportable resource, and its import order (groups, earlier first)."""
    from awxkit.api import resources
    from awxkit.api.mixins import has_create
    from awxkit.api.pages import page
    from awxkit.api.pages.api import EXPORTABLE_RESOURCES

    endpoints = {"inventory": "/api/v2/inventories/"}  # resources.inventory is the detail pattern
    classes = {}
    for resource in EXPORTABLE_RESOURCES:
        endpoint = endpoints.get(resource, getattr(resources, resource))
        classes[resource] = page.get_registered_page(endpoint)(object(), endpoint=endpoint).__item_class__
    by_class = {cls: resource for resource, cls in classes.items()}
    order = {}
    for rank, group in enumerate(has_create.page_creation_order(*classes.values())):
        for cls in group:
            if cls in by_class:
                order[by_class[cls]] = rank
    return classes, order


def _key(natural_key):
    return yaml.safe_dump(natural_key, sort_keys=True)


NATURAL_KEY_FIELDS = {"name", "organization", "inventory", "kind", "identifier", "workflow_job_template",
                      "unified_job_template", "username", "credential_type", "type"}


def _references(value, path=()):
    """Every natural-key reference inside an asset's fields (a dict of natural-key fields with a 'type'),
    with where it is; survey questions and credential input fields have other keys."""
    if isinstance(value, dict):
        if "type" in value and set(value) <= NATURAL_KEY_FIELDS and len(value) > 1:
            yield path, value
            return
        for key, item in value.items():
            if key != "natural_key":
                yield from _references(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _references(item, path + (i,))


def _all_assets(data):
    """(resource, asset) for every top-level asset and every asset created through 'related'."""
    for resource, items in data.items():
        for asset in items:
            yield resource, asset
            for name, related in asset.get("related", {}).items():
                if isinstance(related, list):
                    for item in related:
                        if isinstance(item, dict) and "natural_key" in item:
                            yield name, item


def _read_variables():
    """Variable names the playbooks and roles read: options of roles/*/meta/argument_specs.yml and
    names used in playbooks/ and in the roles' tasks, templates, handlers and vars (not defaults:
    a default alone reads nothing)."""
    names = set()
    for spec_file in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(spec_file, encoding="utf-8") as handle:
            for entry in (yaml.safe_load(handle) or {}).get("argument_specs", {}).values():
                names.update((entry or {}).get("options") or {})
    files = glob.glob(os.path.join(ROOT, "playbooks", "**", "*.yml"), recursive=True)
    for part in ("tasks", "templates", "handlers", "vars"):
        files += glob.glob(os.path.join(ROOT, "roles", "*", part, "**", "*"), recursive=True)
    for path in files:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                names.update(re.findall(r"\b[a-z_][a-z0-9_]*\b", handle.read()))
    return names


READ = _read_variables()


def _job_templates(data):
    return {t["name"]: t for t in data["job_templates"]}


def _survey_variables(template):
    spec = template.get("related", {}).get("survey_spec")
    return [q["variable"] for q in spec["spec"]] if spec else []


def _extra_vars(template):
    return yaml.safe_load(template.get("extra_vars") or "") or {}


# ---- the file, as awxkit reads it ---------------------------------------------------------------

def test_awxkit_reads_the_file_and_knows_every_resource(assets):
    from awxkit.api.pages.api import EXPORTABLE_RESOURCES
    assert set(assets) <= set(EXPORTABLE_RESOURCES), set(assets) - set(EXPORTABLE_RESOURCES)
    assert "credentials" not in assets  # credentials hold secrets: made by hand, never shipped


def test_every_natural_key_is_the_one_awxkit_matches_on(assets):
    classes, _order = _item_classes()
    for resource, items in assets.items():
        fields = set(classes[resource].NATURAL_KEY)
        for asset in items:
            natural_key = asset["natural_key"]
            assert set(natural_key) == fields | {"type"}, (resource, asset.get("name"), natural_key)
            for field in fields:
                if not isinstance(natural_key[field], dict):
                    assert natural_key[field] == asset[field], (resource, field)


def test_every_reference_names_an_asset_imported_before_it(assets):
    """A reference awxkit cannot resolve at import time is silently set to null: each must name an asset
    of the file (or one created with it through 'related'), and a top-level field one of an earlier group."""
    _classes, order = _item_classes()
    where = {}
    for resource, items in assets.items():
        for asset in items:
            where[_key(asset["natural_key"])] = resource
    known = {_key(asset["natural_key"]) for _resource, asset in _all_assets(assets)}
    for resource, asset in _all_assets(assets):
        for path, reference in _references(asset):
            assert _key(reference) in known, (resource, asset.get("name", asset.get("identifier")), path, reference)
            if resource in order and path and path[0] != "related" and _key(reference) in where:
                assert order[where[_key(reference)]] < order[resource], (resource, path, reference)


# ---- the templates, against the playbooks --------------------------------------------------------

def test_the_job_templates_the_runbook_needs_exist(assets):
    assert TEMPLATES <= set(_job_templates(assets))


def test_every_template_names_a_playbook_that_exists(assets):
    for name, template in _job_templates(assets).items():
        assert os.path.isfile(os.path.join(ROOT, template["playbook"])), (name, template["playbook"])
    for source in assets["inventory_sources"]:
        assert os.path.isfile(os.path.join(ROOT, source["source_path"])), source["source_path"]


def test_check_mode_only_on_the_rehearsal(assets):
    for name, template in _job_templates(assets).items():
        assert (template["job_type"] == "check") == (name == REHEARSAL), name
        assert not template["ask_job_type_on_launch"], name  # nobody turns a rehearsal into a run at launch
    assert _job_templates(assets)[REHEARSAL]["diff_mode"] is True


def test_no_template_runs_twice_at_once(assets):
    for template in assets["job_templates"] + assets["workflow_job_templates"]:
        assert template["allow_simultaneous"] is False, template["name"]


def _survey_and_extra_variables(assets):
    for template in assets["job_templates"] + assets["workflow_job_templates"]:
        for variable in _survey_variables(template) + list(_extra_vars(template)):
            yield template["name"], variable


@pytest.mark.parametrize("template,variable", list(
    _survey_and_extra_variables(yaml.safe_load(open(ASSETS, encoding="utf-8")))))
def test_every_survey_and_extra_variable_is_one_a_playbook_reads(template, variable):
    assert variable in READ, "%s: %s is read by no playbook or role" % (template, variable)


def test_the_surveys_ask_for_incident_reason_and_the_typed_region(assets):
    with open(os.path.join(ROOT, "inventories", "production", "group_vars", "all", "platform.yml"), encoding="utf-8") as f:
        platform = yaml.safe_load(f)
    expected_region = {"DR failover": platform["dr_standby_region"], "DR planned failover": platform["dr_standby_region"],
                       "DNS drill": platform["dr_standby_region"], "DR failback": platform["dr_primary_region"]}
    templates = _job_templates(assets)
    for name, region in expected_region.items():
        spec = {q["variable"]: q for q in templates[name]["related"]["survey_spec"]["spec"]}
        assert {"dr_incident_id", "dr_reason", CONFIRM} <= set(spec), name
        assert templates[name]["survey_enabled"] and spec["dr_incident_id"]["required"] and spec[CONFIRM]["required"]
        assert region in spec[CONFIRM]["question_name"] and spec[CONFIRM]["default"] == "", name
    assert _extra_vars(templates["DR planned failover"]) == {"dr_failover_mode": "planned"}
    assert "dr_failover_mode" not in _extra_vars(templates["DR failover"])


def test_readiness_is_scheduled(assets):
    schedules = _job_templates(assets)["DR readiness"]["related"]["schedules"]
    assert schedules and all(s["enabled"] and "RRULE:FREQ=" in s["rrule"] for s in schedules)


def test_the_workflow_is_readiness_approval_failover_verify(assets):
    (workflow,) = assets["workflow_job_templates"]
    nodes = {n["identifier"]: n for n in workflow["related"]["workflow_nodes"]}
    templates = _job_templates(assets)

    def after(identifier):
        related = nodes[identifier]["related"]
        return [ref["identifier"] for kind in ("success_nodes", "always_nodes", "failure_nodes") for ref in related[kind]]

    chain, node = [], "readiness"
    while node:
        chain.append(node)
        following = after(node)
        assert len(following) <= 1, (node, following)
        node = following[0] if following else None
    assert chain == ["readiness", "approval", "failover", "verify"]
    assert set(nodes) == set(chain)  # no other way in
    assert "create_approval_template" in nodes["approval"]["related"] and "unified_job_template" not in nodes["approval"]
    assert not nodes["approval"]["related"]["failure_nodes"]  # denied or timed out: nothing runs
    assert [r["identifier"] for r in nodes["approval"]["related"]["success_nodes"]] == ["failover"]
    assert [r["identifier"] for r in nodes["failover"]["related"]["success_nodes"]] == ["verify"]
    for identifier, name in (("readiness", "DR readiness"), ("failover", "DR failover")):
        assert nodes[identifier]["unified_job_template"]["name"] == name
        assert templates[name]["job_type"] == "run"
    verify = templates[nodes["verify"]["unified_job_template"]["name"]]
    assert verify["job_tags"] == "verify" and verify["job_type"] == "run"
    assert {q["variable"] for q in workflow["related"]["survey_spec"]["spec"]} >= {"dr_incident_id", CONFIRM}


# ---- credential types -----------------------------------------------------------------------------

def test_credential_types_inject_what_the_playbooks_read_and_hide_the_secrets(assets):
    types = {t["name"]: t for t in assets["credential_types"]}
    assert len(types) == 4
    looked_up = set()
    for path in glob.glob(os.path.join(ROOT, "roles", "**", "*.yml"), recursive=True) + \
            glob.glob(os.path.join(ROOT, "inventories", "**", "*.yml"), recursive=True):
        with open(path, encoding="utf-8") as handle:
            looked_up.update(re.findall(r"lookup\('ansible\.builtin\.env', '([A-Z_]+)'\)", handle.read()))
    injected = set()
    for ctype in types.values():
        assert ctype["kind"] == "cloud"  # the kind a custom credential type may have
        fields = {f["id"]: f for f in ctype["inputs"]["fields"]}
        for variable, template in ctype["injectors"]["env"].items():
            injected.add(variable)
            used = re.findall(r"\{\{\s*(\w+)", template)
            assert all(u in fields or u == "tower" for u in used), (ctype["name"], template)
        for field in fields.values():
            if re.search(r"secret|token|key$|url|kubeconfig", field["id"]) and field["id"] != "access_key_id":
                assert field.get("secret") is True, (ctype["name"], field["id"])
    boto = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert boto <= injected and {"KUBECONFIG", "SLACK_WEBHOOK_URL", "STRIPE_API_KEY"} <= injected
    assert injected - boto <= looked_up, (injected - boto) - looked_up


def test_the_file_carries_no_secret_value(assets):
    text = io.open(ASSETS, encoding="utf-8").read()
    assert "$encrypted$" not in text and not re.search(r"hooks\.slack\.com/services|sk_live_|AKIA[0-9A-Z]{16}", text)
    for _resource, asset in _all_assets(assets):
        assert "inputs" not in asset or "fields" in asset["inputs"]  # only credential types' input schemas
    assert list(itertools.chain.from_iterable(t["related"]["credentials"] for t in assets["job_templates"])) == []
