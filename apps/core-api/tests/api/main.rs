//! core-api's HTTP API, tested in-process: the app runs on a free port inside the test binary
//! against its embedded store, with its own namespace on the machine's Redis and RabbitMQ. What
//! crosses processes (the gateway, realtime, the worker) is tested in `tests/e2e`.

mod accounts;
mod after_booking;
mod availability;
mod bookings;
mod chat;
mod gigs;
mod helpers;
mod in_process;
mod notifications;
mod payments;
mod profiles;
mod search;
