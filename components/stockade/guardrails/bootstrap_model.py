"""What each bootstrap step reports: one item, created, updated or unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from botocore.exceptions import ClientError


class Status(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ItemResult:
    item: str
    status: Status
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return {"item": self.item, "status": self.status.value, "detail": self.detail}


def client_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
