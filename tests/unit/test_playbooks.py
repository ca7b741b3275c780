"""The Ansible playbooks behind the catalog: present, valid, and safe with secrets.

Every catalog entry with ``executor.kind: ansible`` names a playbook; ``opsgate execute`` runs
it with the plan's validated parameters as extra vars. These tests hold each playbook to the
conventions a reviewer checks by hand: one local play, inputs asserted first against the
catalog's parameters, named tasks, ``no_log`` wherever a secret-valued variable appears, and a
clean ``ansible-playbook --syntax-check``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import pytest
import yaml

from opsgate import catalog

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

ANSIBLE_ENTRIES = {
    entry.key: entry
    for entry in catalog.load_catalog(ROOT / "policies" / "actions.yaml").entries.values()
    if entry.executor.kind is catalog.ExecutorKind.ANSIBLE
}
ENTRY_IDS = sorted(ANSIBLE_ENTRIES)

# Catalog parameters whose bare names Ansible shadows (a task keyword, a magic variable, a
# Jinja global); playbooks read them through these aliases from vars/common.yml.
PARAMETER_ALIASES = {
    "opsgate_environment": "environment",
    "opsgate_groups": "groups",
    "opsgate_namespace": "namespace",
}
# Playbook-side constants (patterns, allowed values) every assert may use.
CONSTANT_PREFIX = "opsgate_"
# Keys whose string values Ansible evaluates as bare Jinja expressions, not templates.
EXPRESSION_KEYS = {"when", "changed_when", "failed_when", "until", "that"}
SECRET_NAME = re.compile(r"(^|_)(secret|password|token|api_key)(_|$)", re.IGNORECASE)
TASK_LISTS = ("tasks", "block", "rescue", "always")


def _ansible_provides(*_: Any, **__: Any) -> None:
    """Stands for a filter or test Ansible brings (match, regex_replace, …); never called."""


class _AnyName(dict[str, Any]):
    """Every filter and test name is known: Ansible brings its own, and we only parse."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name, _ansible_provides)


_JINJA = jinja2.Environment(autoescape=False)  # noqa: S701 - parses playbook text, renders nothing
_JINJA.filters = _AnyName(_JINJA.filters)
_JINJA.tests = _AnyName(_JINJA.tests)
_JINJA.globals = {}  # `namespace` is a Jinja global, and also a catalog parameter


def _playbook(key: str) -> list[dict[str, Any]]:
    path = ROOT / str(ANSIBLE_ENTRIES[key].executor.playbook)
    plays: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return plays


def _tasks(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every task and block under a play or block, depth first."""
    for key in TASK_LISTS:
        for task in node.get(key, []):
            yield task
            yield from _tasks(task)


def _variables(value: Any, *, key: str = "") -> set[str]:
    """Names of the variables a task field's Jinja reads."""
    if isinstance(value, dict):
        return set().union(*(_variables(v, key=k) for k, v in value.items() if k != "name"), set())
    if isinstance(value, list):
        return set().union(*(_variables(v, key=key) for v in value), set())
    if not isinstance(value, str):
        return set()
    source = f"{{{{ ({value}) }}}}" if key in EXPRESSION_KEYS else value
    return jinja2.meta.find_undeclared_variables(_JINJA.parse(source))


def _asserted_parameters(variables: set[str]) -> set[str]:
    names = {PARAMETER_ALIASES.get(name, name) for name in variables}
    return {name for name in names if not name.startswith(CONSTANT_PREFIX)}


@pytest.mark.parametrize("key", ENTRY_IDS)
def test_every_ansible_catalog_entry_has_its_playbook(key: str) -> None:
    assert (ROOT / str(ANSIBLE_ENTRIES[key].executor.playbook)).is_file()


@pytest.mark.parametrize("key", ENTRY_IDS)
def test_each_playbook_is_one_local_play_without_fact_gathering(key: str) -> None:
    plays = _playbook(key)

    assert len(plays) == 1
    play = plays[0]
    assert (play["hosts"], play["connection"], play["gather_facts"]) == ("localhost", "local", False)
    assert play["vars_files"] == ["../vars/common.yml"]


@pytest.mark.parametrize("key", ENTRY_IDS)
def test_each_playbook_starts_by_asserting_its_inputs(key: str) -> None:
    first = _playbook(key)[0]["tasks"][0]

    assert "ansible.builtin.assert" in first
    assert first["ansible.builtin.assert"]["fail_msg"]


@pytest.mark.parametrize("key", ENTRY_IDS)
def test_the_input_assert_covers_exactly_the_catalog_parameters(key: str) -> None:
    that = _playbook(key)[0]["tasks"][0]["ansible.builtin.assert"]["that"]

    asserted = _asserted_parameters(_variables({"that": that}))

    assert asserted == set(ANSIBLE_ENTRIES[key].parameter_names)


@pytest.mark.parametrize("key", ENTRY_IDS)
def test_every_task_and_block_has_a_name(key: str) -> None:
    unnamed = [task for task in _tasks(_playbook(key)[0]) if not task.get("name")]

    assert unnamed == []


@pytest.mark.parametrize("key", ENTRY_IDS)
def test_only_builtin_modules_are_used(key: str) -> None:
    keywords = {"name", "when", "register", "vars", "loop", "loop_control", "no_log", "check_mode"}
    keywords |= {"changed_when", "failed_when", "block", "rescue", "always"}
    modules = {k for task in _tasks(_playbook(key)[0]) for k in task if k not in keywords}

    assert {module for module in modules if not module.startswith("ansible.builtin.")} == set()


@pytest.mark.parametrize("key", ENTRY_IDS)
def test_every_task_reading_a_secret_valued_variable_is_no_log(key: str) -> None:
    leaking = [
        task["name"]
        for task in _tasks(_playbook(key)[0])
        if not any(k in task for k in TASK_LISTS[1:])
        and any(SECRET_NAME.search(name) for name in _variables(task))
        and task.get("no_log") is not True
    ]

    assert leaking == []


@pytest.mark.parametrize("key", ENTRY_IDS)
def test_each_playbook_ends_with_a_one_line_summary(key: str) -> None:
    last = _playbook(key)[0]["tasks"][-1]

    assert last["name"] == "Summarize"
    assert "\n" not in last["ansible.builtin.debug"]["msg"].strip()


def _ansible_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_HOME": str(tmp_path / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def test_all_playbooks_pass_ansible_syntax_check(tmp_path: Path) -> None:
    paths = [str(ANSIBLE_ENTRIES[key].executor.playbook) for key in ENTRY_IDS]

    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "--syntax-check", *paths],
        cwd=ROOT,
        env=_ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("playbook: ") == len(paths)


@pytest.mark.parametrize(
    ("key", "parameters", "complaint"),
    [
        (
            "provision.scale.deployment",
            {"name": "checkout", "namespace": "shop", "replicas": 500},
            "replicas an integer from 0 to 100",
        ),
        (
            "provision.create.namespace",
            {"name": "kube-system", "environment": "dev"},
            "not a system namespace",
        ),
    ],
    ids=["replicas-out-of-range", "system-namespace"],
)
def test_a_playbook_refuses_bad_inputs_before_touching_anything(
    tmp_path: Path, key: str, parameters: dict[str, Any], complaint: str
) -> None:
    result = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            str(ANSIBLE_ENTRIES[key].executor.playbook),
            "--extra-vars",
            json.dumps({**parameters, "kubectl_bin": "/nonexistent/kubectl"}),
        ],
        cwd=ROOT,
        env=_ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2
    assert complaint in result.stdout + result.stderr
    assert "ok=0" in result.stdout


_LABELS = {"app.kubernetes.io/managed-by": "opsgate", "opsgate.dev/environment": "staging"}
_QUOTA = {
    "requests_cpu": 4,
    "requests_memory": "8Gi",
    "limits_cpu": 8,
    "limits_memory": "16Gi",
    "pods": 50,
    "pvcs": 10,
}


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        (
            "namespace.yaml.j2",
            {"name": "payments", "namespace_pod_security": "restricted", "namespace_quota": _QUOTA},
            [
                ("Namespace", "payments"),
                ("ResourceQuota", "default-quota"),
                ("LimitRange", "default-limits"),
                ("NetworkPolicy", "default-deny-ingress"),
                ("NetworkPolicy", "allow-same-namespace"),
            ],
        ),
        (
            "service-account.yaml.j2",
            {"name": "reporter", "namespace": "payments"},
            [("ServiceAccount", "reporter")],
        ),
        (
            "certificate.yaml.j2",
            {
                "certificate_name": "api-acme-org-tls",
                "cert_namespace": "payments",
                "domain": "api.acme.org",
                "cert_duration": "2160h",
                "cert_renew_before": "360h",
                "cert_issuer_kind": "ClusterIssuer",
                "cert_issuer_name": "internal-ca",
            },
            [("Certificate", "api-acme-org-tls")],
        ),
        (
            "peer-authentication.yaml.j2",
            {"peer_authentication_name": "api-strict-mtls", "mtls_namespace": "payments", "service": "api"},
            [("PeerAuthentication", "api-strict-mtls")],
        ),
        (
            "role-binding.yaml.j2",
            {
                "binding_kind": "RoleBinding",
                "binding_name": "opsgate:alice:edit",
                "opsgate_namespace": "shop",
                "username": "alice",
                "role": "edit",
                "k8s_user_prefix": "",
            },
            [("RoleBinding", "opsgate:alice:edit")],
        ),
    ],
    ids=["namespace", "service-account", "certificate", "peer-authentication", "role-binding"],
)
def test_each_manifest_template_renders_to_the_kubernetes_objects_it_promises(
    template: str, variables: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    environment = jinja2.Environment(  # noqa: S701 - renders YAML, not HTML
        loader=jinja2.FileSystemLoader(PLAYBOOKS / "templates"), undefined=jinja2.StrictUndefined
    )

    rendered = environment.get_template(template).render(opsgate_managed_labels=_LABELS, **variables)

    documents = [document for document in yaml.safe_load_all(rendered) if document]
    assert [(document["kind"], document["metadata"]["name"]) for document in documents] == expected
    assert all(
        document["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "opsgate" for document in documents
    )
