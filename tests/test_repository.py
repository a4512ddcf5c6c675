"""The repository stands on its own: nothing points outside it, and its documents' links work."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Spelled in pieces so this file does not match itself.
OUTSIDE_REFERENCES = tuple(
    part.encode() for part in ("../" + "shared", "shared" + "/spec", "shared" + "/reference")
)
# Fixtures copied from elsewhere may say where they came from.
MAY_NAME_THEIR_SOURCE = "tests/fixtures/"
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [name for name in listing.decode().split("\0") if name]


def test_no_tracked_file_reaches_outside_the_repository() -> None:
    files = tracked_files()
    assert "README.md" in files  # the listing really is this repository's
    offenders = [
        name
        for name in files
        if not name.startswith(MAY_NAME_THEIR_SOURCE)
        and (ROOT / name).is_file()
        and any(ref in (ROOT / name).read_bytes() for ref in OUTSIDE_REFERENCES)
    ]
    assert offenders == []


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(document: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", document.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_in_the_documents_resolves() -> None:
    assert (ROOT / "docs" / "README.md").is_file()
    broken = []
    checked = 0
    for document in documents():
        for target in MARKDOWN_LINK.findall(document.read_text()):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path, _, anchor = target.partition("#")
            resolved = (document.parent / path).resolve() if path else document
            checked += 1
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such heading)")
    assert checked > 0
    assert broken == []


def test_the_interface_document_names_every_setting() -> None:
    interface = (ROOT / "docs" / "interface.md").read_text()
    missing = [
        name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in interface
    ]
    assert missing == []


def test_the_served_docs_assets_come_with_their_licences() -> None:
    from app.api_docs import ASSETS_DIR

    note = (ROOT / "app" / "licenses" / "THIRD-PARTY.md").read_text()
    swagger = (ASSETS_DIR / "swagger-ui-bundle.js").read_text()
    redoc = (ASSETS_DIR / "redoc.standalone.js").read_text()
    swagger_version = re.search(r'PACKAGE_VERSION:"([0-9.]+)"', swagger)
    redoc_version = re.search(r'ReDoc Version: ","([0-9.]+)"', redoc)
    assert swagger_version and redoc_version
    # A newer fastapi-offline brings newer bundles: the note must follow them.
    assert f"Swagger UI {swagger_version.group(1)}" in note
    assert f"ReDoc {redoc_version.group(1)}" in note
    apache = (ROOT / "app" / "licenses" / "swagger-ui.Apache-2.0.txt").read_text()
    assert "Apache License" in apache and "Version 2.0" in apache
    assert "MIT License" in (ROOT / "app" / "licenses" / "redoc.MIT.txt").read_text()
