"""The shop's record: what the `store` group writes (products, inventory, users, clicks, orders)."""
