//! End-to-end tests of the whole platform through the gateway; the tests live in `tests/`.
