"""execution-environment.yml: the build context `ansible-builder create` writes from it holds what the
collection needs (no container engine here, so no image is built).

scripts/test.sh writes the context first and hands it over in LOMASHWOOD_EE_CONTEXT; without it the
test builds the collection and writes a context of its own (a few seconds).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def _read(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as handle:
        return handle.read()


def _pins(text):
    """name -> '==version' of a pip requirements text (comments and blanks left out)."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _sep, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    given = os.environ.get("LOMASHWOOD_EE_CONTEXT")
    if given:
        return given
    work = tmp_path_factory.mktemp("ee")
    for name in ("execution-environment.yml", "requirements.txt"):
        shutil.copy(os.path.join(ROOT, name), work)
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(work), ROOT],
                   check=True, capture_output=True, text=True)
    subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "--file", str(work / "execution-environment.yml"),
                    "--context", str(work / "context"), "--output-filename", "Containerfile"],
                   check=True, capture_output=True, text=True)
    return str(work / "context")


@pytest.fixture(scope="module")
def definition():
    return yaml.safe_load(_read(ROOT, "execution-environment.yml"))


def test_the_definition_is_ansible_builder_v3(definition):
    from ansible_builder.ee_schema import validate_schema
    assert definition["version"] == 3
    validate_schema(definition)  # raises on anything v3 does not accept


def test_the_python_requirements_are_the_collections(context):
    written = _pins(_read(context, "_build", "requirements.txt"))
    wanted = _pins(_read(ROOT, "requirements.txt"))
    assert written == wanted
    assert {"boto3", "botocore", "kubernetes"} <= set(written) and all(written.values())


def test_the_system_packages_include_curl_for_the_smoke_tests(context):
    assert "curl" in _read(ROOT, "scripts", "smoke-test.sh")
    assert re.search(r"^curl(-minimal)? ", _read(context, "_build", "bindep.txt"), re.M)


def test_ansible_core_and_runner_are_pinned_as_the_tests_run_them(context):
    containerfile = _read(context, "Containerfile")
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M).group(1).split()
    core = _pins(_read(ROOT, "requirements.txt"))["ansible-core"]
    assert "ansible-core==" + core in refs
    assert any(ref.startswith("ansible-runner==") for ref in refs)
    # ansible-core 2.21 needs Python >= 3.12
    assert re.search(r'^ARG PYCMD="/usr/bin/python3\.1[2-9]"', containerfile, re.M)


def test_the_collection_dependencies_are_galaxy_ymls_at_the_tested_versions(context):
    from ansible.galaxy.dependency_resolution.versioning import meets_requirements
    written = {c["name"]: c["version"].lstrip("=") for c in yaml.safe_load(_read(context, "_build", "requirements.yml"))["collections"]}
    galaxy = yaml.safe_load(_read(ROOT, "galaxy.yml"))
    assert set(written) == set(galaxy["dependencies"])
    for name, version in written.items():
        assert meets_requirements(version, galaxy["dependencies"][name]), (name, version, galaxy["dependencies"][name])
        manifest = os.path.join(ROOT, "collections", "ansible_collections", *name.split("."), "MANIFEST.json")
        if os.path.exists(manifest):  # the version the tests run (scripts/setup.sh)
            with open(manifest, encoding="utf-8") as handle:
                assert json.load(handle)["collection_info"]["version"] == version, name


def test_the_collection_itself_goes_in_from_the_tarball(context):
    galaxy = yaml.safe_load(_read(ROOT, "galaxy.yml"))
    tarballs = glob.glob(os.path.join(context, "_build", "collection", "lomashwood-multiregion-*.tar.gz"))
    assert [os.path.basename(t) for t in tarballs] == ["lomashwood-multiregion-%s.tar.gz" % galaxy["version"]]
    containerfile = _read(context, "Containerfile")
    install = containerfile.index("ansible-galaxy collection install --no-deps --collections-path /usr/share/ansible/collections "
                                  "/build/collection/lomashwood-multiregion-")
    # in the galaxy stage, whose /usr/share/ansible the final image copies
    assert containerfile.rfind("FROM ", 0, install) == containerfile.index("FROM base AS galaxy")
    assert "COPY --from=galaxy /usr/share/ansible /usr/share/ansible" in containerfile[containerfile.index("AS final"):]
    assert containerfile.index("COPY _build /build") < install
