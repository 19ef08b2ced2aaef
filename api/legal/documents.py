"""The legal documents users accept, versioned: a consent records the version it was given to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from adapters.db.models import ConsentKind

_FOLDER = Path(__file__).parent / "texts"


@dataclass(frozen=True)
class LegalDocument:
    kind: ConsentKind
    version: str
    effective_date: date
    title: str
    file: str

    @property
    def content(self) -> str:
        return _read(self.file)


@cache
def _read(file: str) -> str:
    return (_FOLDER / file).read_text(encoding="utf-8")


TERMS = LegalDocument(
    ConsentKind.TERMS, "2026-11-01", date(2026, 11, 1), "Termos de Uso", "terms-2026-11-01.md"
)
PRIVACY = LegalDocument(
    ConsentKind.PRIVACY,
    "2026-11-01",
    date(2026, 11, 1),
    "Política de Privacidade",
    "privacy-2026-11-01.md",
)
# Marketing has no document of its own: it is a clause of the privacy policy.
CURRENT_VERSION = {
    ConsentKind.TERMS: TERMS.version,
    ConsentKind.PRIVACY: PRIVACY.version,
    ConsentKind.MARKETING: PRIVACY.version,
}
