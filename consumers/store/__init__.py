"""The `store` consumer group: the shop's record of products, inventory, users, clicks and orders."""

from consumers.store.processor import StoreProcessor

__all__ = ["StoreProcessor"]
