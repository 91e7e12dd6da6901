"""Real product schemas as test fixtures (issue 21, item 5).

Four widely used products' own tables, with the table and column names, types, NOT NULL
constraints and indexes their upstream projects define, filled with synthetic Vietnamese
customers whose identifiers are typed the way people type them:

- ``woocommerce``: WordPress users and WooCommerce HPOS orders, on MariaDB;
- ``listmonk``: newsletter subscribers and their list subscriptions, on PostgreSQL;
- ``odoo``: Odoo 17 contacts (``res_partner``) and sales orders, on PostgreSQL;
- ``asterisk``: FreePBX's call detail records (``asteriskcdrdb.cdr``) and the call recordings
  they name, on MariaDB and SQLite.

Each module has ``create_tables`` / ``drop_tables``, ``fill`` (N people plus the known subjects
of ``people``, returning a ``Seeded`` description), ``scale`` (10,000 to 1,000,000 customers by
bulk insert) and ``entry`` (the product's ``connectors.yaml`` entry). ``python -m
tests.products.scale`` runs the scale mode from the shell.
"""
