//! A local Stripe stand-in for tests and the one-command run (never deployed).
