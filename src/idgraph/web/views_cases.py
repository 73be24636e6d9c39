"""Cases and legal process: list, open, close; a case's page (members, subjects and
notes, legal process, watches, activity) with its forms; register and verify documents.

Every act is decided in ``idgraph.app``; a part of the page the caller may not see
(a non-member's case material, another's watches) is shown as withheld with the rules,
never decided here."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from idgraph.api.deps import get_env, locked
from idgraph.app import admin
from idgraph.app import cases as app_cases
from idgraph.app import watches as app_watches
from idgraph.app.auth import SessionState
from idgraph.app.errors import Denied, Invalid
from idgraph.cases import KINDS as CASE_KINDS
from idgraph.policy import legal as legal_lib
from idgraph.web.errors import SEE_OTHER, WebRoute
from idgraph.web.render import page
from idgraph.web.session import current, verified

router = APIRouter(route_class=WebRoute)
PAGE: Final[int] = 50  # activity rows a page
# who is shown the supplements closing made due (the app decides: act sar.list)
SUPPLEMENT_READERS: Final[frozenset[str]] = frozenset({"records_officer", "overseer"})

# the choices the forms offer (the app decides what is valid)
CHOICES: Final[dict[str, Any]] = {
    "types": legal_lib.TYPES,
    "levels": legal_lib.LEVELS,
    "issuers": legal_lib.ISSUERS,
    "appointments": legal_lib.APPOINTMENTS,
}


def _date(value: str, name: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{name}: not a date (YYYY-MM-DD): {value!r}", field=name) from None


def _list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.replace("\n", ",").split(",") if v.strip())


@router.get("/cases")
def cases(request: Request, state: Annotated[SessionState, Depends(current)],
          status: str = "") -> Response:
    env = get_env(request)
    supplements = None
    with locked(env):
        rows = app_cases.list_cases(env, state.caller, status=status or None)
        if state.user.role in SUPPLEMENT_READERS:  # the link, not the decision (sar.list)
            supplements = app_cases.supplements_due(env, state.caller)
    return page(request, "cases.html.j2", state, cases=rows, status_filter=status,
                kinds=CASE_KINDS, supplements=supplements)


@router.post("/cases")
def case_open(
    request: Request,
    state: Annotated[SessionState, Depends(verified)],
    case_id: Annotated[str, Form()],
    title: Annotated[str, Form()],
    kind: Annotated[str, Form()],
) -> Response:
    env = get_env(request)
    with locked(env):
        case = app_cases.open_case(env, state.caller, case_id.strip(), title=title.strip(),
                               kind=kind.strip())
    return RedirectResponse(f"/cases/{case.case_id}", status_code=SEE_OTHER)


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str,
              state: Annotated[SessionState, Depends(current)], offset: int = 0) -> Response:
    env = get_env(request)
    offset = max(offset, 0)
    file: app_cases.CaseFile | None = None
    withheld: tuple[str, ...] = ()
    watches: list[Any] | None = None
    with locked(env):
        case = app_cases.get_case(env, state.caller, case_id)
        legal = admin.list_legal(env, state.caller, case_id=case_id)
        try:
            file = app_cases.case_file(env, state.caller, case_id, offset=offset,
                                       limit=PAGE)
        except Denied as exc:  # need-to-know: not a member (audited by the app)
            withheld = exc.rules
        try:
            watches = [w for w in app_watches.list_watches(env, state.caller)
                       if w.case_id == case_id]
        except Denied:
            watches = None
    return page(request, "case.html.j2", state, case=case, legal=legal, file=file,
                withheld=withheld, watches=watches, page_size=PAGE, **CHOICES)


def _back(case_id: str, part: str) -> RedirectResponse:
    return RedirectResponse(f"/cases/{quote(case_id, safe='')}#{part}", status_code=SEE_OTHER)


@router.post("/cases/supplements/{sar_id}/{case_id}/sent")
def supplement_sent(request: Request, sar_id: str, case_id: str,
                    state: Annotated[SessionState, Depends(verified)]) -> Response:
    """The records officer sent the supplement a closed case made due."""
    env = get_env(request)
    with locked(env):
        app_cases.supplement_sent(env, state.caller, sar_id, case_id)
    return RedirectResponse("/cases#supplements", status_code=SEE_OTHER)


@router.post("/cases/{case_id}/assign")
def case_assign(
    request: Request,
    case_id: str,
    state: Annotated[SessionState, Depends(verified)],
    add: Annotated[str, Form()] = "",
    remove: Annotated[str, Form()] = "",
) -> Response:
    """Assign, remove or reassign members (a supervisor of the case's organisation)."""
    env = get_env(request)
    with locked(env):
        app_cases.assign(env, state.caller, case_id, add=_list(add), remove=_list(remove))
    return _back(case_id, "members")


@router.post("/cases/{case_id}/subjects")
def case_subject(
    request: Request,
    case_id: str,
    state: Annotated[SessionState, Depends(verified)],
    identity_id: Annotated[str, Form()],
) -> Response:
    env = get_env(request)
    with locked(env):
        app_cases.add_subject(env, state.caller, case_id, identity_id.strip())
    return _back(case_id, "subjects")


@router.post("/cases/{case_id}/notes")
def case_note(
    request: Request,
    case_id: str,
    state: Annotated[SessionState, Depends(verified)],
    text: Annotated[str, Form()],
    identity_id: Annotated[str, Form()] = "",
) -> Response:
    env = get_env(request)
    with locked(env):
        app_cases.add_note(env, state.caller, case_id, text,
                           identity_id=identity_id.strip() or None)
    return _back(case_id, "notes")


@router.post("/cases/{case_id}/close")
def case_close(request: Request, case_id: str,
               state: Annotated[SessionState, Depends(verified)]) -> Response:
    env = get_env(request)
    with locked(env):
        app_cases.close_case(env, state.caller, case_id)
    return RedirectResponse(f"/cases/{case_id}", status_code=SEE_OTHER)


@router.get("/legal")
def legal(request: Request, state: Annotated[SessionState, Depends(current)],
          case_id: str = "") -> Response:
    env = get_env(request)
    with locked(env):
        rows = admin.list_legal(env, state.caller, case_id=case_id.strip() or None)
    return page(request, "legal.html.j2", state, legal=rows, case_id=case_id,
                **CHOICES)


@router.post("/legal")
def legal_add(
    request: Request,
    state: Annotated[SessionState, Depends(verified)],
    type: Annotated[str, Form()],
    number: Annotated[str, Form()],
    issued: Annotated[str, Form()],
    case_id: Annotated[str, Form()],
    expires: Annotated[str, Form()] = "",
    court: Annotated[str, Form()] = "",
    judge: Annotated[str, Form()] = "",
    judge_appointment: Annotated[str, Form()] = "",
    level: Annotated[str, Form()] = "",
    issuer: Annotated[str, Form()] = "",
    scope_identities: Annotated[str, Form()] = "",
    scope_sources: Annotated[str, Form()] = "",
) -> Response:
    env = get_env(request)
    issued_on = _date(issued, "issued")
    if issued_on is None:
        raise Invalid("issued: the date the document was issued is required", field="issued")
    with locked(env):
        doc = admin.add_legal(
            env, state.caller, type=type.strip(), number=number.strip(), issued=issued_on,
            expires=_date(expires, "expires"), court=court.strip() or None,
            judge=judge.strip() or None, judge_appointment=judge_appointment.strip() or None,
            level=level.strip() or None, issuer=issuer.strip() or None,
            scope_identities=_list(scope_identities), scope_sources=_list(scope_sources),
            case_id=case_id.strip())
    return RedirectResponse(f"/legal?case_id={doc.case_id or ''}", status_code=SEE_OTHER)


@router.post("/legal/{legal_id}/verify")
def legal_verify(
    request: Request,
    legal_id: str,
    state: Annotated[SessionState, Depends(verified)],
    document: Annotated[UploadFile, File()],
) -> Response:
    """A second person checks the paper: the uploaded scan's SHA-256 is recorded."""
    content = document.file.read()
    if not content:
        raise Invalid("The document file is empty.", field="document")
    env = get_env(request)
    with locked(env):
        admin.verify_legal(env, state.caller, legal_id,
                           sha256=hashlib.sha256(content).hexdigest())
    return RedirectResponse("/legal", status_code=SEE_OTHER)
