"""Read-side services behind the routes: no HTTP here, no writes to state."""
