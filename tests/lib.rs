//! Cross-crate integration tests against a real PostgreSQL (the database
//! `DATABASE_URL` names; see `test-support`). This library is empty on
//! purpose: the tests are the `[[test]]` targets beside it. It never ships.
