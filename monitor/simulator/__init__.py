"""A ConnectWise Manage REST API simulator over real HTTP, for the demo, end-to-end tests and
benchmarks.

What is simulated (as documented; see ../shared/connectwise-api.md):

* ``GET /login/companyinfo/{companyId}`` (no auth) and, under ``/{codebase}apis/3.0`` (the
  tenant's codebase or ``v4_6_release/``): ``/system/info``, ``/system/securityroles``
  (+``/{id}``, ``/count``), ``/system/securityRoles/{parentId}/settings`` (+``/{id}``,
  ``/count``), ``/system/mySecurity``, ``/system/mySecurity/customizeItems/``,
  ``/system/setupScreens``, ``/system/apiMembers``, ``/system/members``,
  ``/finance/accountingPackageSetup``, ``/finance/accountingPackages``, ``/finance/glCaptions``
  (each +``/{id}``, ``/count``). Read-only: other methods answer 405.
* Basic auth ``companyId+publicKey:privateKey``, the ``clientId`` header, 401
  ``{"code":"ConnectWiseApi","message":"UserNotAuthenticated","errors":null}``; permissions from
  the caller's role (403); ``page``/``pageSize`` (25 default, 1000 max) with RFC 5988 ``Link``;
  simple ``conditions`` (``=``/``!=``/``<``/``>`` joined by ``AND``; 400 ``InvalidObject``
  otherwise); ``fields`` and ``orderBy`` are ignored (full rows, ordered by id).
* Faults per tenant and path glob: status, rate_limit (429 + ``Retry-After``), latency,
  malformed_json, html_error, wrong_shape, connection_reset, broken_paging, mangle (a field
  left out, ``null`` or of another type, a list emptied, truncated or with rows twice, an unknown
  field added: ``mangle.py``); and per-tenant latency.

Assumptions (not documented by ConnectWise; verify on a live tenant):

* the 403 (and 404/405/500) ``code``/``message`` strings;
* the ``itemIdentifier`` format of customize items: each tenant picks ``id`` (setup screen id),
  ``name`` ("Billing Status") or ``category_name`` ("Invoicing / Billing Status");
* ``roleType`` is "Member" for every role; ``moduleIdentifier``/``moduleFunctionIdentifier`` are
  invented CamelCase forms of the UI names (``catalog.py``);
* inquire level "My" allows reads; an admin role (``adminFlag``) passes every check.

Control API (no ConnectWise auth; loopback tool): ``/_sim/...``, documented in ``control.py``;
the same mutators are methods of ``state.SimulatorState``.

Entry points: ``scenario.load_scenario`` / ``scenario.generate_fleet``, ``state.SimulatorState``,
``app.create_app``, ``server.serve_asgi`` / ``server.running_simulator`` / ``server.serve_forever``.
"""
