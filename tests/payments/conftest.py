"""The payment fixtures (`stripe_*`, `mp_*`) are plugins of the root conftest."""
