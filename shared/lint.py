"""cfn-lint on every rendered template, in process, cached by template hash.

The cache key is the template's sha256 plus cfn-lint's version and the house rules'
hash, so a new cfn-lint or a changed rule re-lints everything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from archway.shared.synth import SynthResult

CACHE_FILE = ".lint-cache.json"
RULES_DIR = Path(__file__).parent / "lint_rules"


@dataclass(frozen=True)
class Finding:
    template: str
    rule: str
    level: str  # error | warning | informational
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.template}: {self.rule} [{self.level}] {self.path}: {self.message}"


def lint_template(body: str, region: str) -> list[Finding]:
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    config = ManualArgs(regions=[region], append_rules=[str(RULES_DIR)]) if _has_rules() \
        else ManualArgs(regions=[region])
    matches = lint(body, config=config)
    return [
        Finding("", m.rule.id, m.rule.severity, "/".join(str(p) for p in m.path), m.message)
        for m in matches
    ]


def _has_rules() -> bool:
    return RULES_DIR.is_dir() and any(RULES_DIR.glob("*.py"))


def _salt() -> str:
    import cfnlint.version

    digest = hashlib.sha256(cfnlint.version.__version__.encode())
    if _has_rules():
        for path in sorted(RULES_DIR.glob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def lint_synth(result: SynthResult) -> list[Finding]:
    """Lint every template of a synth, skipping those already clean in the cache."""
    cache_path = result.out_dir / CACHE_FILE
    cache = _read_cache(cache_path)
    salt = _salt()
    findings: list[Finding] = []
    clean: dict[str, bool] = {}
    for stack in result.manifest["stacks"]:
        key = f"{salt}:{stack['template_sha256']}:{stack['region']}"
        if cache.get(key):
            clean[key] = True
            continue
        body = (result.out_dir / stack["template"]).read_text(encoding="utf-8")
        found = [Finding(stack["template"], f.rule, f.level, f.path, f.message)
                 for f in lint_template(body, stack["region"])]
        findings += found
        clean[key] = not found
    cache_path.write_text(json.dumps({k: v for k, v in clean.items() if v}, sort_keys=True))
    return findings


def _read_cache(path: Path) -> dict[str, bool]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def declared_deviations(result: SynthResult) -> list[str]:
    """Every deliberate deviation from a control the templates declare in their Metadata
    (``Archway::Deviations``), one line each: template, control, resources, reason."""
    from archway.shared.blueprint import DEVIATIONS

    lines = []
    for stack in result.manifest["stacks"]:
        body = json.loads((result.out_dir / stack["template"]).read_text(encoding="utf-8"))
        for declared in body.get("Metadata", {}).get(DEVIATIONS, []):
            lines.append(f"{stack['template']}: deviation {declared['Control']} "
                         f"({', '.join(declared['Resources'])}): {declared['Reason']}")
    return lines
