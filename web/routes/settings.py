"""`/api/settings`: the system settings shared by the cluster, as `mailpoll settings` shows and
sets them (same checks, same words), with their history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from shared.accounts import audit
from shared.accounts.display import history_view
from shared.system_settings import SystemSettings
from web.auth import Admin, Viewer, services_of
from web.paging import safe_text
from web.problems import documented
from web.schemas import HistoryEntry

router = APIRouter(prefix="/api/settings", tags=["settings"], responses=documented(401, 403, 422))


class Setting(BaseModel):
    """A setting's value and where it comes from: the database (set here or with `mailpoll
    settings set`), the environment, or unset."""

    key: str
    value: str | None
    source: Literal["database", "environment", "unset"]
    help: str


class NewValue(BaseModel):
    value: Annotated[str, Field(max_length=4000, description="empty: remove the stored value")]


class SettingChange(BaseModel):
    changed: bool
    setting: Setting


@router.get("", summary="Every system setting with its value and source")
def show_settings(request: Request, principal: Viewer) -> list[Setting]:
    services = services_of(request)
    with services.database.session() as session:
        store = SystemSettings(session, services.settings, actor=principal.name)
        return [Setting.model_validate(value, from_attributes=True) for value in store.all()]


@router.put("/{key}", summary="Set a setting (an empty value removes the stored one)")
def set_setting(key: str, body: NewValue, request: Request, principal: Admin) -> SettingChange:
    services = services_of(request)
    with services.database.session() as session:
        store = SystemSettings(session, services.settings, actor=principal.name)
        changed = store.set(key, body.value)
        current = next(value for value in store.all() if value.key == key)
        return SettingChange(
            changed=changed, setting=Setting.model_validate(current, from_attributes=True)
        )


@router.get("/{key}/history", summary="Who changed a setting, when, from what to what")
def setting_history(key: str, request: Request, principal: Viewer) -> list[HistoryEntry]:
    with services_of(request).database.session() as session:
        entries = audit.history(session, kind="setting", name=safe_text("key", key) or "")
        return [HistoryEntry.model_validate(entry) for entry in history_view(entries)]
