"""The console's pages, one module per area; `PAGES` lists their routers for client/console/app.py.

To add a page (a supplier's dashboard, a bank's financing queue, ...):

1. write a module here with an `APIRouter` named `router`, its routes taking
   a `Visit` through a guard of client/console/web.py (`signed_in("maker")`
   and so on) and returning `render(visit, "page.html", ...)`; every POST
   route also takes `posted` (the CSRF check);
2. write `templates/page.html` extending `base.html`, every string through
   `t(key)`, and add the keys in both languages to client/console/i18n.py
   (tests/client/console/test_i18n.py fails on a key missing in either);
3. add the router to `PAGES` below, and a link to the menu in
   `templates/base.html` if it belongs there;
4. for an action the organisation signs, never sign in the route: add an
   `Action` to client/console/approvals.py's `ACTIONS` and call `prepare`;
   a checker's approval signs and submits it.

- `auth`: login (password, then TOTP for checkers and admins when on), logout, language;
- `home`: the dashboard: the organisation, its node, the user's role, what waits;
- `queue`: the approvals queue (pending, approved, rejected), approve and reject;
- `inbox`: the supplier's inbox (credentials to accept or reject) and a credential's page;
- `trail`: the audit trail and its CSV and JSON export (admins);
- `people`: the accounts (admins): add, change role, unlock, reset password;
- `bank`: the bank's financing queue, its offers and disbursement confirmations, exposure by core;
- `explorer`: blocks, transactions, search, node status, checkpoints, `/live` heights;
- `explorer_tools`: in-browser verification, the auditor's audits (in the background, with
  their history), chain file and trace downloads;
- `holdings`: the supplier's dashboard: holdings by status, what falls due when, clearings;
- `transfer`: a note's split-and-transfer form and its financing request (pick a bank);
- `financing`: a financing's one page for both its parties (the bank's side: due diligence and
  terms priced as typed), and the seller's acceptance of exactly the terms shown;
- `payables`: the core enterprise's credit lines, payables by month, overdue, payment;
- `issuance`: the core enterprise's issuance against invoices, with tenor warnings;
- `credit_lines`: a bank proposes a credit line (its half signed at approval, handed over
  as a file) and the core enterprise checks and co-signs it.
"""

from __future__ import annotations

from client.console.pages import (
    auth,
    bank,
    credit_lines,
    explorer,
    explorer_tools,
    financing,
    holdings,
    home,
    inbox,
    issuance,
    payables,
    people,
    queue,
    trail,
    transfer,
)

PAGES = (auth.router, home.router, queue.router, inbox.router, trail.router, people.router,
         bank.router, explorer.router, explorer_tools.router,
         holdings.router, transfer.router, financing.router, payables.router, issuance.router,
         credit_lines.router)
