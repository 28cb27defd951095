"""The ``/__emulator__/`` admin API (fault switches, counts, reset) and what a planner does in
SAP: create an order, change one (new change stamp and ETag)."""

from decimal import Decimal

from . import data as seed_data
from . import writes
from .faults import FaultError
from .model import ENTITY_SETS
from .reads import bad_request, json_response, not_found

ADMIN_ROOT = "/__emulator__/"


def handle(emulator, request):
    name = request.path[len(ADMIN_ROOT) :].strip("/")
    if name == "state" and request.method == "GET":
        return json_response(emulator.state())
    if name == "faults" and request.method == "GET":
        return json_response(emulator.faults.snapshot())
    if name == "faults" and request.method == "POST":
        try:
            emulator.faults.update(request.json())
        except FaultError as error:
            return json_response({"error": str(error)}, 400)
        return json_response(emulator.faults.snapshot())
    if name == "faults" and request.method == "DELETE":
        emulator.faults.clear()
        return json_response(emulator.faults.snapshot())
    if name == "reset" and request.method == "POST":
        emulator.reset()
        return json_response(emulator.state())
    if name == "csrf/expire" and request.method == "POST":
        emulator.expire_csrf_tokens()
        return json_response({"expired": True})
    if name == "oauth/expire" and request.method == "POST":
        emulator.expire_oauth_tokens()
        return json_response({"expired": True})
    if name.startswith("orders/") and request.method == "POST":
        return json_response(change_order(emulator, name.split("/", 1)[1], request.json()))
    if name == "orders" and request.method == "POST":
        return json_response(create_order(emulator, **request.json()), 201)
    return json_response({"error": f"no admin resource {request.method} {name}"}, 404)


def change_order(emulator, number, changes):
    """Change an order as an SAP user would (new change stamp and ETag)."""
    entity_set = ENTITY_SETS["A_ProductionOrder_2"]
    with emulator.store.transaction():
        order = emulator.store.get(entity_set.name, (number,))
        if order is None:
            raise not_found("API_PRODUCTION_ORDER_2_SRV", number)
        unknown = set(changes) - set(entity_set.prop_map)
        if unknown:
            raise bad_request("", f"unknown order fields: {', '.join(sorted(unknown))}")
        row = emulator.store.put(
            entity_set.name, {**writes.touched(order, emulator.clock), **changes}
        )
    return {key: value for key, value in row.items() if not key.startswith("__")}


def create_order(emulator, material="FG-BRK100", quantity="50", released=True):
    """A new production order, as planning in SAP would create one."""
    if material not in seed_data.BOMS:
        raise bad_request("", f"{material} is not a finished material with a BoM")
    with emulator.store.transaction():
        number = emulator.store.next_number("next_order", seed_data.FIRST_ORDER)
        first = int(emulator.store.meta.get("next_operation_confirmation", 0)) + 1
        now = emulator.clock()
        order, operations, components = seed_data.order_rows(
            number,
            material,
            Decimal(str(quantity)),
            changed=now,
            start=now.date(),
            released=bool(released),
            first_confirmation=first,
        )
        emulator.store.set_meta("next_operation_confirmation", str(first + len(operations) - 1))
        for operation in operations:
            emulator.store.put("A_ProductionOrderOperation_2", operation)
        for component in components:
            emulator.store.put("A_ProductionOrderComponent_2", component)
        emulator.store.put("A_ProductionOrder_2", order)
    return {key: value for key, value in order.items() if not key.startswith("__")}
