"""System Configuration: the system, feedback and error-reporting addresses, the default
polling interval and the upload directory, through `SystemSettings` (same checks, same audit)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.errors import ConfigError
from shared.system_settings import SPECS, SettingValue, SystemSettings
from web.auth import Principal, services_of
from web.console.guard import AdminPage, ViewerPage
from web.console.pages import go, render
from web.console.routes.account_page import Posted

router = APIRouter(include_in_schema=False)
LABELS = {
    "system_email_address": "System Email Address",
    "feedback_email_address": "Feedback Email Address",
    "error_reporting_email_address": "Error Reporting Email Address",
    "default_polling_interval": "Default Polling Interval (s)",
    "upload_directory": "Upload Directory",
}
PURPOSE = {
    "system_email_address": "The sender of the mail mailpoll sends itself: test mail, error "
    "reports, feedback. Make it the registered owner of the outbound account: some email "
    "services reject mail that is not from the account's owner.",
    "feedback_email_address": "Where users' feedback goes: your support or administration team.",
    "error_reporting_email_address": "Receives a report with the error when an account fails "
    "repeatedly.",
    "default_polling_interval": "Seconds between polls of inbound accounts that leave Polling "
    "Interval blank.",
    "upload_directory": "Where received messages are saved, as "
    "<upload directory>/default/in/YYYYMMDD/<folder>/.",
}


@router.get("/settings")
def settings_page(request: Request, principal: ViewerPage) -> Response:
    return _page(request, principal, _current(request, principal), {}, {})


@router.post("/settings")
def save_settings(request: Request, principal: AdminPage, form: Posted) -> Response:
    typed = {key: str(form.get(key) or "") for key in SPECS}
    current = _current(request, principal)
    services = services_of(request)
    changed: list[str] = []
    try:
        with services.database.session() as session:
            store = SystemSettings(session, services.settings, actor=principal.name)
            for item in current:
                if typed[item.key].strip() != (item.value or "") and store.set(
                    item.key, typed[item.key]
                ):
                    changed.append(LABELS[item.key])
    except ConfigError as refused:  # the transaction was rolled back: nothing was written
        field = refused.field if refused.field in SPECS else "system_email_address"
        return _page(request, principal, current, typed, {field: refused.message},
                     summary=f"Nothing was saved: {refused}", status=422)  # fmt: skip
    if not changed:
        return go("/settings", ("note", "Nothing to save: no setting was changed."))
    return go("/settings", ("ok", f"Saved: {', '.join(changed)}."))


def _current(request: Request, principal: Principal) -> list[SettingValue]:
    services = services_of(request)
    with services.database.session() as session:
        return SystemSettings(session, services.settings, actor=principal.name).all()


def _page(
    request: Request, principal: Principal, current: list[SettingValue], typed: dict[str, str],
    errors: dict[str, str], *, summary: str = "", status: int = 200,
) -> Response:  # fmt: skip
    return render(
        request, "settings.html", principal, status=status, section="settings",
        current=current, typed=typed, errors=errors, summary=summary, labels=LABELS,
        purpose=PURPOSE, editable=principal.role == "admin",
    )  # fmt: skip
