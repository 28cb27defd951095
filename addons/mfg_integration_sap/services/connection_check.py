"""Test Connection: $metadata and one entity of a service, what each step says, how long."""

import time
from dataclasses import dataclass, field

from .odata.errors import AuthenticationFailed, ODataError

CHECK_SERVICE = "API_PRODUCTION_ORDER_2_SRV"
CHECK_ENTITY_SET = "A_ProductionOrder_2"


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    milliseconds: float


@dataclass
class Report:
    steps: list = field(default_factory=list)

    @property
    def ok(self):
        return all(step.ok for step in self.steps)

    def lines(self):
        return [
            f"{'OK' if s.ok else 'FAILED'}  {s.name} ({s.milliseconds:.0f} ms): {s.detail}"
            for s in self.steps
        ]


def check(settings, service=CHECK_SERVICE, entity_set=CHECK_ENTITY_SET, clock=time.monotonic):
    """Read ``$metadata``, one entity and a CSRF token of ``service``: a Report of each
    step (authentication, metadata, read, CSRF) with its latency; stops at the first hard
    failure (wrong credentials make every later step fail the same way)."""
    client = settings.client(service)
    report = Report()

    def run(name, function):
        started = clock()
        try:
            detail = function()
        except AuthenticationFailed as error:
            report.steps.append(Step(name, False, _auth_words(error), _ms(clock, started)))
            return False
        except ODataError as error:
            words = error.sap.message or str(error)
            status = f"HTTP {error.status}: " if error.status else ""
            report.steps.append(Step(name, False, f"{status}{words}", _ms(clock, started)))
            return False
        report.steps.append(Step(name, True, detail, _ms(clock, started)))
        return True

    def metadata():
        schema = client.metadata()
        sets = [entity.name for entity in schema.entity_sets]
        return f"authenticated; {service} offers {len(sets)} entity sets"

    def read_one():
        rows = next(client.iter_pages(entity_set, top=1), [])
        if not rows:
            return f"{entity_set} answered with no entity (an empty system?)"
        keys = ", ".join(f"{k}={v}" for k, v in list(rows[0].values.items())[:1])
        return f"read one {entity_set} ({keys})"

    def csrf():
        token = client.fetch_csrf_token()
        return f"token received ({len(token)} characters): writes will be accepted"

    for name, function in (
        ("Authentication and $metadata", metadata),
        ("Read one entity", read_one),
        ("CSRF token", csrf),
    ):
        if not run(name, function):
            break
    client.session.close()
    return report


def _ms(clock, started):
    return (clock() - started) * 1000.0


def _auth_words(error):
    return (
        f"SAP refused the credentials (HTTP {error.status or 401}): check the user and "
        "password (or the OAuth client), and that the communication arrangement includes "
        "this API"
    )
