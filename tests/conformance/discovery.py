#!/usr/bin/env python3
"""A Python SCIM client's discovery against the real .wasm: scim2-client's
`discover()` (RFC 7644 §4) must learn the User, Group and Role resource types
with their schemas and extensions, and the ServiceProviderConfig, under
scim2-models' strict validation (any attribute outside RFC 7643 §5 fails).

Run by `make conformance`, or directly:
    .venv/bin/python tests/conformance/discovery.py
"""

from __future__ import annotations

import sys

from scim2_client.engines.httpx2 import SyncSCIMClient
from served import missing_builds
from served import served

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ROLE = "urn:spin-scim:params:scim:schemas:extension:role:2.0:Role"
AUDIT_EVENT = "urn:spin-scim:params:scim:schemas:AuditEvent"


def check(failures: list[str], ok: bool, what: str) -> None:
    print(f"{'PASS' if ok else 'FAIL'}  {what}")
    if not ok:
        failures.append(what)


def main() -> int:
    for f in missing_builds():
        print(f"{f} is missing: run `make build`", file=sys.stderr)
        return 2
    failures: list[str] = []
    with served() as http:
        client = SyncSCIMClient(http)
        try:
            client.discover()
        except Exception as exc:  # scim2-client's and pydantic's errors
            print(f"FAIL  discover(): {type(exc).__name__}: {exc}")
            return 1
        provider = client.provider

        types = {rt.name: rt for rt in provider.resource_types}
        check(failures, sorted(types) == ["AuditEvent", "Group", "Role", "User"],
              f"resource types User, Group, Role, AuditEvent (got {sorted(types)})")
        for name, schema, endpoint in [
            ("User", USER, "/Users"),
            ("Group", GROUP, "/Groups"),
            ("Role", ROLE, "/Roles"),
            ("AuditEvent", AUDIT_EVENT, "/AuditEvents"),
        ]:
            rt = types.get(name)
            check(failures, rt is not None and str(rt.schema_) == schema
                  and rt.endpoint == endpoint, f"{name}: schema {schema} at {endpoint}")
        user_extensions = [str(e.schema_) for e in types["User"].schema_extensions or []] \
            if "User" in types else []
        check(failures, ENTERPRISE in user_extensions,
              f"User extensions include the enterprise user (got {user_extensions})")

        schemas = {m.__schema__ for m in provider.models}
        for urn in (USER, GROUP, ROLE):
            check(failures, urn in schemas, f"a model for schema {urn}")
        # The models are built from /Schemas: the model the client composed
        # for /Users (extensions included) knows RFC 7643 §4.1's attributes.
        user_model = provider.model_for("User")
        check(failures, user_model is not None and "user_name" in user_model.model_fields,
              "the discovered User model has userName")
        check(failures, provider.model_for_endpoint("/Users") is user_model,
              "/Users serves the User model")
        group_model = provider.model_for("Group")
        check(failures, group_model is not None and "members" in group_model.model_fields,
              "the discovered Group model has members")
        role_model = provider.model_for_endpoint("/Roles")
        check(failures, role_model is not None, "/Roles serves a discovered Role model")

        config = provider.config
        check(failures, config is not None, "the ServiceProviderConfig validates strictly")
        if config is not None:
            check(failures, bool(config.patch.supported), "patch.supported")
            check(failures, config.pagination is not None and config.pagination.index
                  and config.pagination.cursor
                  and config.pagination.default_pagination_method == "index",
                  "pagination: index and cursor paging, index by default (RFC 9865 §4)")
            check(failures, config.filter.max_results == config.pagination.max_page_size,
                  "filter.maxResults = pagination.maxPageSize")

        # And it uses what it learned: a user round trip through the models.
        if user_model is not None:
            created = client.create(user_model(user_name="discovery-check"))
            check(failures, isinstance(created, user_model) and created.id is not None,
                  "create a user with the discovered model")
            client.delete(user_model, created.id)

    print(f"discovery: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
