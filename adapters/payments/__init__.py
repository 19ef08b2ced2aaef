"""Payment provider adapters (Stripe, Mercado Pago) behind provider-neutral models."""
