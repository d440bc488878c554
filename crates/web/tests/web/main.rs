//! The web layer: routes in process, and pages in real headless Chromium.

mod browser;
mod common;
mod email;
mod readers;
mod routes;
