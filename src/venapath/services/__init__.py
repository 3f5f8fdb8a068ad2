"""Services shared by every entry point: reading cases, evaluating them."""
