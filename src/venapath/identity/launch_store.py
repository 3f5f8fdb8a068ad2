"""Where a SMART launch waits for the EHR, and where its session lives afterwards.

One row per launch (table `smart_launches`), in the registry database so every worker
process sees it. A launch starts `pending` (state, PKCE verifier, the browser binding), is
consumed exactly once by the EHR's redirect back, and then holds the access token and the
launch user until the token expires. Browser secrets are stored as SHA-256 digests only; the
access token is stored encrypted (AES-256-GCM, identity/token_cipher.py, bound to its row).

When the server-side session store of the sign-in work is merged, `open_session` is where a
SMART launch would create a session there instead of keeping `session_digest` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from venapath.domain.access import Principal, Role
from venapath.identity.smart import SmartConfiguration, SmartLaunchRefusedError, digest
from venapath.identity.token_cipher import TokenCipher
from venapath.persistence.database import Database
from venapath.persistence.tables import SmartLaunchRow

PENDING_LIFETIME = timedelta(minutes=10)
"""How long a person has to authorise at the EHR before the launch must start again."""
DEFAULT_TOKEN_LIFETIME = timedelta(minutes=30)
"""A session's length when the EHR's token response does not say (`expires_in`)."""
MAX_SESSION_LIFETIME = timedelta(hours=8)
"""Even a long-lived EHR token does not keep a VenaPath launch open past one shift."""


@dataclass(frozen=True)
class PendingLaunch:
    """What the redirect back from the EHR needs to finish the launch."""

    kind: str
    fhir_base: str
    configuration: SmartConfiguration
    redirect_uri: str
    code_verifier: str


@dataclass(frozen=True)
class LaunchSession:
    """An authorised launch: whom it is for, and the EHR access it carries (server-side only)."""

    principal: Principal
    fhir_base: str
    access_token: str
    scope: str
    expires_at: datetime


class LaunchStore:
    def __init__(self, database: Database, cipher: TokenCipher) -> None:
        self._database = database
        self._cipher = cipher

    def begin(
        self,
        *,
        state: str,
        browser_secret: str,
        kind: str,
        fhir_base: str,
        configuration: SmartConfiguration,
        redirect_uri: str,
        code_verifier: str,
        now: datetime | None = None,
    ) -> None:
        """Remember a launch sent to the EHR (and drop launches whose time is over)."""
        moment = now or datetime.now(UTC)
        with self._database.session() as session:
            session.execute(delete(SmartLaunchRow).where(SmartLaunchRow.expires_at < moment))
            session.add(
                SmartLaunchRow(
                    state_digest=digest(state),
                    browser_digest=digest(browser_secret),
                    kind=kind,
                    fhir_base=fhir_base,
                    configuration=configuration.model_dump(mode="json"),
                    redirect_uri=redirect_uri,
                    code_verifier=code_verifier,
                    created_at=moment,
                    expires_at=moment + PENDING_LIFETIME,
                )
            )

    def consume(
        self, *, state: str, browser_secret: str | None, now: datetime | None = None
    ) -> PendingLaunch:
        """The launch this `state` belongs to, usable once, and only from the same browser.

        A state that is unknown, already used, expired, or presented by another browser (the
        binding cookie is missing or differs) is refused: that is a forged or replayed
        redirect, the login CSRF the `state` parameter exists to stop."""
        moment = now or datetime.now(UTC)
        with self._database.session() as session:
            row = session.get(SmartLaunchRow, digest(state), with_for_update=True)
            if row is None or row.code_verifier is None or row.expires_at < moment:
                raise SmartLaunchRefusedError(
                    "unknown, used or expired launch state: start the launch again from the EHR"
                )
            if browser_secret is None or digest(browser_secret) != row.browser_digest:
                raise SmartLaunchRefusedError(
                    "this launch was started in another browser (state not bound to this browser)"
                )
            pending = PendingLaunch(
                kind=row.kind,
                fhir_base=row.fhir_base,
                configuration=SmartConfiguration.model_validate(row.configuration),
                redirect_uri=row.redirect_uri,
                code_verifier=row.code_verifier,
            )
            row.code_verifier = None  # one use only, whatever the EHR answers next
        return pending

    def open_session(
        self,
        *,
        state: str,
        session_secret: str,
        principal: Principal,
        access_token: str,
        scope: str,
        expires_in: int | None,
        now: datetime | None = None,
    ) -> None:
        """Attach the authorised session (and the access token) to the consumed launch."""
        moment = now or datetime.now(UTC)
        lifetime = (
            timedelta(seconds=expires_in) if expires_in is not None else DEFAULT_TOKEN_LIFETIME
        )
        with self._database.session() as session:
            row = session.get(SmartLaunchRow, digest(state), with_for_update=True)
            if row is None:
                raise SmartLaunchRefusedError("the launch ended before it was authorised")
            row.session_digest = digest(session_secret)
            row.access_token = self._cipher.seal(access_token, row.state_digest)
            row.scope = scope
            row.principal = _principal_record(principal)
            row.expires_at = moment + min(lifetime, MAX_SESSION_LIFETIME)

    def session(self, session_secret: str | None, now: datetime | None = None) -> LaunchSession:
        """The live session named by the browser's cookie; refused when absent or over."""
        if not session_secret:
            raise SmartLaunchRefusedError(
                "no SMART launch in this browser: open VenaPath from the EHR"
            )
        moment = now or datetime.now(UTC)
        with self._database.session() as session:
            row = session.scalars(
                select(SmartLaunchRow).where(
                    SmartLaunchRow.session_digest == digest(session_secret)
                )
            ).one_or_none()
            if row is None or row.principal is None or row.access_token is None:
                raise SmartLaunchRefusedError(
                    "unknown SMART session: open VenaPath from the EHR again"
                )
            if row.expires_at < moment:
                raise SmartLaunchRefusedError(
                    "the SMART session has expired: open VenaPath from the EHR again"
                )
            return LaunchSession(
                principal=_principal_from(row.principal, row.session_digest),
                fhir_base=row.fhir_base,
                access_token=self._cipher.open(row.access_token, row.state_digest),
                scope=row.scope or "",
                expires_at=row.expires_at,
            )

    def end(self, session_secret: str) -> None:
        """Forget the session and its access token (sign-out of the launch)."""
        with self._database.session() as session:
            session.execute(
                delete(SmartLaunchRow).where(
                    SmartLaunchRow.session_digest == digest(session_secret)
                )
            )


def _principal_record(principal: Principal) -> dict[str, Any]:
    return {
        "subject": principal.subject,
        "display": principal.display,
        "patient_id": principal.patient_id,
        "roles": sorted(role.value for role in principal.roles),
    }


def _principal_from(record: dict[str, Any], session_digest: str | None) -> Principal:
    return Principal(
        subject=str(record["subject"]),
        display=str(record["display"]),
        roles=frozenset(Role(role) for role in record["roles"]),
        method="smart",
        session_id=session_digest,
        patient_id=record.get("patient_id"),
    )
