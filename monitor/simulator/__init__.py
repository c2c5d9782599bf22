"""A ConnectWise Manage REST API simulator over real HTTP, for the demo, end-to-end tests and
benchmarks.

What is simulated (as documented; see ../shared/connectwise-api.md and
../shared/connectwise-audit-tickets.md):

* ``GET /login/companyinfo/{companyId}`` (no auth) and, under ``/{codebase}apis/3.0`` (the
  tenant's codebase or ``v4_6_release/``): ``/system/info``, ``/system/securityroles``
  (+``/{id}``, ``/count``), ``/system/securityRoles/{parentId}/settings`` (+``/{id}``,
  ``/count``), ``/system/mySecurity``, ``/system/mySecurity/customizeItems/``,
  ``/system/setupScreens``, ``/system/apiMembers``, ``/system/members``,
  ``/finance/accountingPackageSetup``, ``/finance/accountingPackages``, ``/finance/glCaptions``
  (each +``/{id}``, ``/count``).
* The MSP side (a tenant with a ``service_desk``): ``/company/companies``, ``/service/boards``,
  ``/service/boards/{id}/statuses`` and ``/types``, ``/service/priorities``,
  ``/service/tickets`` and ``/service/tickets/{id}/notes`` (GET, each +``/{id}``, ``/count``).
* Writes: PATCH (a JSON Patch array, objects replaced whole) on
  ``/finance/accountingPackageSetup/{id}``, ``/system/apiMembers/{id}``,
  ``/finance/glCaptions/{id}`` and ``/service/tickets/{id}``; POST ``/service/tickets`` and
  ``/service/tickets/{id}/notes``. Refusals are ``ErrorResponseMessage`` with ``errors[]``
  (``responses.py``); ``_info.updatedBy`` names the writing member, ``lastUpdated`` is the
  simulator clock. Any other method on a served path answers 405 (role settings and the
  customize list are read-only in the API; PUT is not simulated). See ``patch.py``,
  ``writes.py``, ``tickets.py`` and ``routes.py`` (permissions) for the choices made where
  ConnectWise is silent.
* Basic auth ``companyId+publicKey:privateKey``, the ``clientId`` header, 401
  ``{"code":"ConnectWiseApi","message":"UserNotAuthenticated","errors":null}``; permissions from
  the caller's role (403); ``page``/``pageSize`` (25 default, 1000 max) with RFC 5988 ``Link``;
  simple ``conditions`` (``=``/``!=``/``<``/``>`` joined by ``AND``; 400 ``InvalidObject``
  otherwise); ``fields`` as a partial response (``securityRole/id`` nested paths; ``query.py``);
  ``orderBy`` is ignored (rows ordered by id). Every API answer carries ``api-current-version``
  (the tenant's release; ``SimulatorState.upgrade`` moves a tenant to a new codebase and
  version, ``set_api_version`` changes the header alone, ``add_setup_screen`` adds a table to
  its catalogue), and the request log records each answer's body size (``response_bytes``).
* Faults per tenant, path glob and (optionally) method: status, rate_limit (429 +
  ``Retry-After``), latency, malformed_json, html_error, wrong_shape, connection_reset,
  broken_paging, mangle (a field left out, ``null`` or of another type, a list emptied,
  truncated or with rows twice, an unknown field added: ``mangle.py``); for writes
  not_persisted (a 200 that did not land), validation_error (400), error_after_write (landed,
  then 500) and timeout_after_write (landed, then no answer); and per-tenant latency. Every
  write (POST/PUT/PATCH/DELETE) is counted per tenant, endpoint and method.

Assumptions (not documented by ConnectWise; verify on a live tenant):

* the 403 (and 404/405/409/500) ``code``/``message`` strings, and the inner ValidationError
  codes of a refused write;
* the ``itemIdentifier`` format of customize items: each tenant picks ``id`` (setup screen id),
  ``name`` ("Billing Status") or ``category_name`` ("Invoicing / Billing Status");
* ``roleType`` is "Member" for every role; ``moduleIdentifier``/``moduleFunctionIdentifier`` are
  invented CamelCase forms of the UI names (``catalog.py``);
* level "My" allows the operation; an admin role (``adminFlag``) passes every check;
* which role rows guard boards, statuses and ticket notes (``routes.py``).

Control API (no ConnectWise auth; loopback tool): ``/_sim/...``, documented in ``control.py``;
the same mutators are methods of ``state.SimulatorState``.

Entry points: ``scenario.load_scenario`` / ``scenario.generate_fleet``, ``state.SimulatorState``,
``app.create_app``, ``server.serve_asgi`` / ``server.running_simulator`` / ``server.serve_forever``.
"""
