"""The read models: state that a consumer group writes (each into its own SQLite file and snapshot
folder) and that the API reads.

- `store/`   -- the shop's record: products, inventory, users, clicks, orders (the `store` group);
- `catalog/` -- searchable products with FTS5, and the live vector + keyword index that follows
  them (the `catalog` group);
- `learner/` -- the ordered log of what the recommender learns from, and the model's snapshots
  (the `learner` group).

Rules shared by all of them live here once: last writer wins by event time (`upsert`), and an
order id names one order (`orders`).
"""
