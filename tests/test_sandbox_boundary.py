"""The sandbox is an independent test double: it imports nothing of the client it is meant to test.

If the sandbox used the client's rules (``gateway.protocol``, ``gateway.settings.is_loopback``,
...), a wrong rule would be wrong on both sides and no test could notice. Two checks: a static scan
of every sandbox module's imports, and a fresh interpreter that runs the sandbox and then looks at
what got imported.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_DIR = ROOT / "fxiaoke_provider" / "sandbox"
PACKAGE = "fxiaoke_provider"
SANDBOX = "fxiaoke_provider.sandbox"
CLIENT_MODULES = (
    "fxiaoke_provider.client",
    "fxiaoke_provider.gateway",
    "fxiaoke_provider.gateway.protocol",
    "fxiaoke_provider.gateway.gateway",
    "fxiaoke_provider.gateway.settings",
    "fxiaoke_provider.messaging",
    "fxiaoke_provider.messaging.wire",
    "fxiaoke_provider.messaging.bodies",
    "fxiaoke_provider.connection",
    "fxiaoke_provider.connection.config",
    "fxiaoke_provider.exceptions",
    "fxiaoke_provider.hooks.fxiaoke",
)


def _inside_sandbox(module: str) -> bool:
    return module == SANDBOX or module.startswith(SANDBOX + ".")


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def boundary_violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Imports in ``source`` (the text of ``module``) that reach ``fxiaoke_provider`` outside the sandbox."""
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 >= len(package_parts):
                    found.append(f"line {node.lineno}: relative import climbs out of every package")
                    continue
                base = package_parts[: len(package_parts) - (node.level - 1)]
                resolved = ".".join(base + ([node.module] if node.module else []))
                if not _inside_sandbox(resolved):
                    found.append(f"line {node.lineno}: relative import escapes the sandbox ({resolved})")
                continue
            base_module = node.module or ""
            targets = [base_module]
            if base_module == PACKAGE:  # ``from fxiaoke_provider import protocol``
                targets = [f"{PACKAGE}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call):  # importlib.import_module("...") / __import__("...")
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    targets = [first.value]
        for target in targets:
            if (target == PACKAGE or target.startswith(PACKAGE + ".")) and not _inside_sandbox(target):
                found.append(f"line {node.lineno}: imports {target}")
    return found


def _sandbox_modules() -> list[Path]:
    modules = sorted(SANDBOX_DIR.rglob("*.py"))
    assert modules, f"no sandbox modules found under {SANDBOX_DIR}"
    return modules


@pytest.mark.parametrize("path", _sandbox_modules(), ids=lambda p: str(p.relative_to(SANDBOX_DIR)))
def test_no_sandbox_module_imports_the_client(path):
    module = _module_name(path)
    problems = boundary_violations(path.read_text(), module, is_package=path.name == "__init__.py")
    assert problems == [], f"{module} reaches outside the sandbox: {problems}"


@pytest.mark.parametrize(
    ("source", "module", "bad"),
    [
        ("from fxiaoke_provider.protocol import SUCCESS", "fxiaoke_provider.sandbox.engine", True),
        ("import fxiaoke_provider.connection", "fxiaoke_provider.sandbox.server", True),
        ("from fxiaoke_provider import protocol", "fxiaoke_provider.sandbox.engine", True),
        ("from .. import messages", "fxiaoke_provider.sandbox.engine", True),
        ("from ..hooks.fxiaoke import FxiaokeHook", "fxiaoke_provider.sandbox.engine", True),
        ("from .... import x", "fxiaoke_provider.sandbox.engine", True),
        (
            "import importlib\nimportlib.import_module('fxiaoke_provider.protocol')",
            "fxiaoke_provider.sandbox.x",
            True,
        ),
        ("__import__('fxiaoke_provider.exceptions')", "fxiaoke_provider.sandbox.x", True),
        ("from fxiaoke_provider.sandbox.rules import SUCCESS", "fxiaoke_provider.sandbox.engine", False),
        ("from fxiaoke_provider.sandbox import rules", "fxiaoke_provider.sandbox.engine", False),
        ("from . import rules", "fxiaoke_provider.sandbox.engine", False),
        ("from .rules import SUCCESS", "fxiaoke_provider.sandbox.engine", False),
        ("import json, http.server", "fxiaoke_provider.sandbox.engine", False),
    ],
)
def test_the_scan_catches_what_it_should(source, module, bad):
    """The scanner itself, so a green boundary test means something."""
    assert bool(boundary_violations(source, module)) is bad


_PROBE = """
import importlib, json, pkgutil, sys, io
import fxiaoke_provider.sandbox as sandbox
for info in pkgutil.walk_packages(sandbox.__path__, sandbox.__name__ + "."):
    importlib.import_module(info.name)
with sandbox.SandboxGateway(port=0, token_delay_s=0, log_stream=io.StringIO()) as gateway:
    import urllib.request, uuid
    body = json.dumps({"appId": sandbox.DEFAULT_APP_ID, "appSecret": sandbox.DEFAULT_APP_SECRET,
                       "permanentCode": sandbox.DEFAULT_PERMANENT_CODE, "grantType": "app_secret"}).encode()
    request = urllib.request.Request(
        f"{gateway.url}/oauth2.0/token?thirdTraceId={uuid.uuid4()}", data=body,
        headers={"Content-Type": "application/json"}, method="POST")
    answer = json.load(urllib.request.urlopen(request, timeout=5))
    assert answer["errorCode"] == 0, answer
print(json.dumps(sorted(name for name in sys.modules if name.startswith("fxiaoke_provider"))))
"""


def test_running_the_sandbox_imports_nothing_of_the_client():
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "fxiaoke_provider.sandbox.server" in loaded  # the probe really ran the sandbox
    for name in CLIENT_MODULES:
        assert name not in loaded
    outside = [name for name in loaded if name != PACKAGE and not _inside_sandbox(name)]
    assert outside == [], f"the sandbox pulled in client modules: {outside}"
